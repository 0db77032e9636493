"""The reference MAEs: the short-schedule recipe (tools/short_schedule.py, notebook 08a) run long, one per name of
`mae_nb.pretrained(...)`.

    python tools/reference.py --threads 1                          # the 64-wide reference: start, or resume exactly
    python tools/reference.py --model fashion_mnist_128 --threads 1  # the 128-wide one (notebook 14a)
    python tools/reference.py --model fashion_mnist_192 --threads 1  # the 192-wide one (notebook 14a)
    python tools/reference.py --model NAME --ship                   # its weights into the package, and Fig. 2

Each pretrains on 'fashion_mnist_dev' (55,000 of the training images) so that the other 5,000 stay unseen for every
choice made on it; the test set is never read here. After the epochs in PROBE_AT it probes the encoder on the
held-out split (cls token, patch mean, patch tokens), which gives the pretraining-length curve (Fig. 7).

A run is long and must survive the end of a working session: after every epoch its resumable checkpoint (model,
optimizer, RNG) is copied to results/<folder>/checkpoint.pth, the one file per model committed and overwritten. On a
fresh machine the run resumes from that file. Results: results/<folder>/{epochs.csv,probes.json,result.json}.
"""
import argparse, json, os, shutil, time
from pathlib import Path
import torch
from fastai.callback.core import Callback
from mae_nb.checkpoints import latest_checkpoint
from mae_nb.grids import get_budget
from mae_nb.loaders import mae_dataloaders
from mae_nb.linprobe import ProbeCurve
from mae_nb.logs import logged_seconds
from mae_nb.pretrain import PretrainConfig, pretrain
from mae_nb.reconstructions import reconstruction_ratio
from short_schedule import BASE, CHOSEN, PROBE, machine, probe_loaders

ROOT = Path(__file__).resolve().parents[1]
PROBE_AT = (1, 5, 10, 20, 40, 60, 80, 100)
MODELS = {  # name of `pretrained(...)`: its results folder, encoder (the decoder is the preset's 64 x 2), settings
    'fashion_mnist': dict(folder='reference', encoder='a 64-wide, 6-block encoder', model_kwargs={},
                          precision='fp32'),
    # the scaling grid's 128-wide size (notebook 14); bf16 autocast where the CPU has it natively, fp32 elsewhere
    'fashion_mnist_128': dict(folder='reference_128', encoder='a 128-wide, 6-block encoder (8 heads)',
                              model_kwargs=get_budget('cpu10').sizes['128 wide'], precision='auto'),
    # the grid's largest size, the next candidate for the fine-tuning target (notebook 14a)
    'fashion_mnist_192': dict(folder='reference_192', encoder='a 192-wide, 6-block encoder (12 heads)',
                              model_kwargs=get_budget('cpu10').sizes['192 wide'], precision='auto'),
}
EPOCHS = 100

class Reference:
    "Where the run of the reference MAE `name` lives, and its settings."
    def __init__(self, name:str):
        if name not in MODELS: raise SystemExit(f"unknown model {name!r}; expected one of {list(MODELS)}")
        m = MODELS[name]
        self.name, self.encoder = name, m['encoder']
        self.results, self.run = ROOT/'results'/m['folder'], ROOT/'runs'/m['folder']
        self.kept, self.asset = self.results/'checkpoint.pth', ROOT/'mae_nb'/'assets'/f'mae_{name}.pth'
        self.command = 'python tools/reference.py --threads 1' + ('' if name == 'fashion_mnist' else f' --model {name}')
        # the chosen recipe; warmup scaled with the schedule, as the paper's 40 of 800 epochs (5%)
        self.settings = {**BASE, **CHOSEN, 'epochs': EPOCHS, 'warmup_epochs': 5., 'out': str(self.run),
                         'model_kwargs': m['model_kwargs'], 'precision': m['precision']}

class KeepCheckpoint(Callback):
    "After `MAECheckpoint` writes one: copy it and the epoch log to the committed results folder."
    order = 66
    def __init__(self, ref:Reference): self.ref = ref
    def after_epoch(self):
        r = self.ref
        ck = latest_checkpoint(r.run)
        if ck is None: return
        tmp = r.kept.with_suffix('.tmp'); shutil.copyfile(ck, tmp); os.replace(tmp, r.kept)
        shutil.copyfile(r.run/'epochs.csv', r.results/'epochs.csv')

def run_wall_s(folder:Path) -> float:
    "The run's time over all its sessions: its epochs (as its epoch log records them) and its probes."
    return logged_seconds(folder/'epochs.csv', EPOCHS) + sum(p['probe_s'] for p in
                                                             json.loads((folder/'probes.json').read_text()))

def main(r:Reference):
    r.results.mkdir(parents=True, exist_ok=True); r.run.mkdir(parents=True, exist_ok=True)
    if latest_checkpoint(r.run) is None and r.kept.exists():  # a fresh machine: resume from the committed checkpoint
        epoch = torch.load(r.kept, weights_only=True, map_location='cpu')['epoch']
        shutil.copyfile(r.kept, r.run/f'checkpoint-{epoch}.pth')
        if (r.results/'epochs.csv').exists(): shutil.copyfile(r.results/'epochs.csv', r.run/'epochs.csv')
    cfg = PretrainConfig(**r.settings)
    train_dl, valid_dl = probe_loaders(cfg.source)
    t0 = time.time()
    learn = pretrain(cfg, resume=True if latest_checkpoint(r.run) else None, figures=False,
                     cbs=[ProbeCurve(train_dl, valid_dl, PROBE_AT, r.results/'probes.json', **PROBE),
                          KeepCheckpoint(r)])
    rec = reconstruction_ratio(learn.model, learn.dls.valid, learn.dls.stats, cfg.mask_ratio)
    rows = json.loads((r.results/'probes.json').read_text())
    res = dict(name=r.name, command=r.command, config=vars(cfg),
               valid_loss=learn.recorder.values[-1][1] if learn.recorder.values else None, reconstruction=rec,
               probe={p: rows[-1][p] for p in ('token', 'avg', 'patches')}, probe_settings=PROBE,
               wall_s=run_wall_s(r.results), wall_s_note="all sessions' epochs and probes",
               last_session_wall_s=round(time.time() - t0, 1), compiled=learn.compiled, machine=machine(),
               precision=getattr(getattr(learn, 'precision', None), 'name', cfg.precision),
               date=time.strftime('%Y-%m-%d'))
    (r.results/'result.json').write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps(res['probe']), rec)

def fp16_check(ck:dict, half:dict) -> dict:
    "What storing the weights in fp16 changes: features and reconstruction of the 5,000 held-out images, fp32 vs fp16."
    from mae_nb.model import create_mae
    from mae_nb.weights import vit_from_checkpoint
    from mae_nb.linprobe import pooled_features
    cfg = PretrainConfig(**{k: v for k, v in ck['config'].items()})
    dls = mae_dataloaders(cfg.source, bs=500, augment=False, seed=0)
    out = {}
    for name, sd in (('fp32', ck['model']), ('fp16', {k: v.float() for k, v in half.items()})):
        mae = create_mae(cfg.preset, norm_pix_loss=cfg.norm_pix_loss, **cfg.model_kwargs); mae.load_state_dict(sd)
        vit = vit_from_checkpoint({'model': sd, 'config': ck['config']}, global_pool='token', fc_norm=False)
        out[name] = (pooled_features(vit, dls.valid, ('patches',))['patches'][0],
                     reconstruction_ratio(mae, dls.valid, dls.stats, cfg.mask_ratio)['ratio'])
    (f32, r32), (f16, r16) = out['fp32'], out['fp16']
    return dict(feature_max_abs_diff=float((f32 - f16).abs().max()), feature_rms=float(f32.pow(2).mean().sqrt()),
                recon_ratio_fp32=round(r32, 5), recon_ratio_fp16=round(r16, 5))

def ship(r:Reference):
    "Write the committed checkpoint's model, in fp16, as the package's pretrained weights, with its provenance."
    import subprocess
    ck = torch.load(r.kept, map_location='cpu', weights_only=True)
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    prov = dict(command=r.command, commit=commit, epochs=ck['epoch'], of_epochs=EPOCHS,
                data="'fashion_mnist_dev': 55,000 Fashion-MNIST training images (5,000 held out, the test set unread)",
                machine=machine(), date=time.strftime('%Y-%m-%d'))
    model = {k: v.half() if v.is_floating_point() else v for k, v in ck['model'].items()}
    prov['fp16_check'] = fp16_check(ck, model)
    tmp = r.asset.with_suffix('.tmp')
    torch.save({'model': model, 'config': ck['config'], 'epoch': ck['epoch'], 'provenance': prov}, tmp)
    os.replace(tmp, r.asset)
    print(f"{r.asset}: {r.asset.stat().st_size / 1e6:.2f} MB, epoch {ck['epoch']}", json.dumps(prov))
    describe(r, prov, ck['config'])
    figure(r)

def describe(r:Reference, prov:dict, cfg:dict):
    "The provenance of the shipped weights, in the assets' README (between the markers of its name)."
    readme, f = r.asset.parent/'README.md', prov['fp16_check']
    start, end = f'<!-- weights: {r.name} -->', f'<!-- /weights: {r.name} -->'
    text = (f"{start}\n`{r.asset.name}`: `mae_nb.pretrained({r.name!r})`. The `{cfg['preset']}` preset with "
            f"{r.encoder} and 4×4 patches, a 2-block 64-wide decoder, pretrained {prov['epochs']} of "
            f"{prov['of_epochs']} epochs on {prov['data']}, raw-pixel targets, batch {cfg['bs']}, base lr "
            f"{cfg['base_lr']:g}, {cfg['warmup_epochs']:g} warmup epochs, mask ratio {cfg['mask_ratio']:g}, "
            f"seed {cfg['seed']}, precision {cfg['precision']!r}.\n\n"
            f"- Command: `{prov['command']}` (resumable; `--ship` writes this file), at commit {prov['commit']}, "
            f"on {prov['machine']}, {prov['date']}.\n"
            f"- Stored in fp16 ({r.asset.stat().st_size / 1e6:.2f} MB) with the run's settings; read back as fp32. "
            f"On the 5,000 held-out images fp16 weights move the patch-token features by at most "
            f"{f['feature_max_abs_diff']:.4f} (their RMS is {f['feature_rms']:.2f}) and the reconstruction ratio "
            f"from {f['recon_ratio_fp32']} to {f['recon_ratio_fp16']}.\n"
            f"- License: Apache-2.0, as mae_nb; trained on Fashion-MNIST (MIT, above).\n{end}")
    old = readme.read_text()
    new = (old[:old.index(start)] + text + old[old.index(end) + len(end):] if start in old
           else old.rstrip('\n') + '\n\n' + text + '\n')
    readme.write_text(new)

def figure(r:Reference):
    "The paper's Fig. 2 from the shipped weights on sample test images: original | masked | reconstruction | + visible."
    import matplotlib; matplotlib.use('Agg')
    from mae_nb.weights import pretrained
    from mae_nb.data import FASHION_MNIST_STATS
    from mae_nb.patchify import load_sample
    from mae_nb.reconstructions import show_reconstructions
    x, y = load_sample('valid')  # 50 test images of each class
    pick = torch.stack([torch.nonzero(y == c)[0, 0] for c in (0, 1, 2, 5, 7, 8, 9)])
    (m,), (s,) = FASHION_MNIST_STATS
    fig = show_reconstructions(pretrained(r.name), (x[pick].float() / 255 - m) / s, FASHION_MNIST_STATS, 0.75,
                               seed=1)
    fig.savefig(r.results/'reconstructions.png', dpi=80)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='fashion_mnist', choices=list(MODELS), help='which reference MAE')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--ship', action='store_true', help="write the committed checkpoint's model to mae_nb/assets")
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    ship(Reference(a.model)) if a.ship else main(Reference(a.model))
