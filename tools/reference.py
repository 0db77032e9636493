"""The reference MAE: the short-schedule recipe (tools/short_schedule.py, notebook 08a) run for 100 epochs.

    python tools/reference.py --threads 1     # start, or resume exactly where it stopped

It pretrains on 'fashion_mnist_dev' (55,000 of the training images) so that the other 5,000 stay unseen for every
choice made on it; the test set is never read here. After the epochs in PROBE_AT it probes the encoder on the
held-out split (cls token, patch mean, patch tokens), which gives the pretraining-length curve (Fig. 7).

The run is long and must survive the end of a working session: after every epoch its resumable checkpoint (model,
optimizer, RNG; about 5 MB) is copied to results/reference/checkpoint.pth, the one file committed and overwritten.
On a fresh machine the run resumes from that file. Results: results/reference/{epochs.csv,probes.json,result.json}.
"""
import argparse, json, os, shutil, time
from pathlib import Path
import torch
from fastai.callback.core import Callback
from mae_nb.checkpoints import latest_checkpoint
from mae_nb.loaders import mae_dataloaders
from mae_nb.linprobe import ProbeCurve
from mae_nb.pretrain import PretrainConfig, pretrain
from mae_nb.reconstructions import reconstruction_ratio
from short_schedule import BASE, CHOSEN, PROBE, machine, probe_loaders

ROOT = Path(__file__).resolve().parents[1]
RESULTS, RUN = ROOT/'results'/'reference', ROOT/'runs'/'reference'
EPOCHS, PROBE_AT = 100, (1, 5, 10, 20, 40, 60, 80, 100)
# the chosen recipe; warmup scaled with the schedule, as the paper's 40 of 800 epochs (5%)
SETTINGS = {**BASE, **CHOSEN, 'epochs': EPOCHS, 'warmup_epochs': 5., 'out': str(RUN)}
KEPT = RESULTS/'checkpoint.pth'

class KeepCheckpoint(Callback):
    "After `MAECheckpoint` writes one: copy it and the epoch log to the committed results folder."
    order = 66
    def after_epoch(self):
        ck = latest_checkpoint(RUN)
        if ck is None: return
        tmp = KEPT.with_suffix('.tmp'); shutil.copyfile(ck, tmp); os.replace(tmp, KEPT)
        shutil.copyfile(RUN/'epochs.csv', RESULTS/'epochs.csv')

def main():
    RESULTS.mkdir(parents=True, exist_ok=True); RUN.mkdir(parents=True, exist_ok=True)
    if latest_checkpoint(RUN) is None and KEPT.exists():  # a fresh machine: resume from the committed checkpoint
        epoch = torch.load(KEPT, weights_only=True, map_location='cpu')['epoch']
        shutil.copyfile(KEPT, RUN/f'checkpoint-{epoch}.pth')
        if (RESULTS/'epochs.csv').exists(): shutil.copyfile(RESULTS/'epochs.csv', RUN/'epochs.csv')
    cfg = PretrainConfig(**SETTINGS)
    train_dl, valid_dl = probe_loaders(cfg.source)
    t0 = time.time()
    learn = pretrain(cfg, resume=True if latest_checkpoint(RUN) else None, figures=False,
                     cbs=[ProbeCurve(train_dl, valid_dl, PROBE_AT, RESULTS/'probes.json', **PROBE), KeepCheckpoint()])
    rec = reconstruction_ratio(learn.model, learn.dls.valid, learn.dls.stats, cfg.mask_ratio)
    rows = json.loads((RESULTS/'probes.json').read_text())
    res = dict(name='reference', command='python tools/reference.py --threads 1', config=vars(cfg),
               valid_loss=learn.recorder.values[-1][1] if learn.recorder.values else None, reconstruction=rec,
               probe={p: rows[-1][p] for p in ('token', 'avg', 'patches')}, probe_settings=PROBE,
               last_session_wall_s=round(time.time() - t0, 1), compiled=learn.compiled, machine=machine(),
               date=time.strftime('%Y-%m-%d'))
    (RESULTS/'result.json').write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps(res['probe']), rec)

ASSET = ROOT/'mae_nb'/'assets'/'mae_fashion_mnist.pth'

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

def ship():
    "Write the committed checkpoint's model, in fp16, as the package's pretrained weights, with its provenance."
    import subprocess
    ck = torch.load(KEPT, map_location='cpu', weights_only=True)
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    prov = dict(command='python tools/reference.py --threads 1', commit=commit, epochs=ck['epoch'], of_epochs=EPOCHS,
                data="'fashion_mnist_dev': 55,000 Fashion-MNIST training images (5,000 held out, the test set unread)",
                machine=machine(), date=time.strftime('%Y-%m-%d'))
    model = {k: v.half() if v.is_floating_point() else v for k, v in ck['model'].items()}
    prov['fp16_check'] = fp16_check(ck, model)
    tmp = ASSET.with_suffix('.tmp')
    torch.save({'model': model, 'config': ck['config'], 'epoch': ck['epoch'], 'provenance': prov}, tmp)
    os.replace(tmp, ASSET)
    print(f"{ASSET}: {ASSET.stat().st_size / 1e6:.2f} MB, epoch {ck['epoch']}", json.dumps(prov))
    describe(prov, ck['config'])
    figure()

def describe(prov:dict, cfg:dict):
    "The provenance of the shipped weights, in the assets' README (between its weights markers)."
    readme = ASSET.parent/'README.md'
    f = prov['fp16_check']
    text = (f"<!-- weights -->\n`{ASSET.name}`: the reference MAE, `mae_nb.pretrained('fashion_mnist')` "
            f"(notebooks 04, 06, 08). The `{cfg['preset']}` preset (a 64-wide, 6-block encoder with 4×4 patches, "
            f"a 2-block 64-wide decoder) pretrained {prov['epochs']} of {prov['of_epochs']} epochs on {prov['data']}, "
            f"raw-pixel targets, batch {cfg['bs']}, base lr {cfg['base_lr']:g}, {cfg['warmup_epochs']:g} warmup "
            f"epochs, mask ratio {cfg['mask_ratio']:g}, seed {cfg['seed']}.\n\n"
            f"- Command: `{prov['command']}` (resumable; `--ship` writes this file), at commit {prov['commit']}, "
            f"on {prov['machine']}, {prov['date']}.\n"
            f"- Stored in fp16 ({ASSET.stat().st_size / 1e6:.2f} MB) with the run's settings; read back as fp32. "
            f"On the 5,000 held-out images fp16 weights move the patch-token features by at most "
            f"{f['feature_max_abs_diff']:.4f} (their RMS is {f['feature_rms']:.2f}) and the reconstruction ratio "
            f"from {f['recon_ratio_fp32']} to {f['recon_ratio_fp16']}.\n"
            f"- License: Apache-2.0, as mae_nb; trained on Fashion-MNIST (MIT, above).\n<!-- /weights -->")
    old = readme.read_text()
    end = '<!-- /weights -->'
    readme.write_text(old[:old.index('<!-- weights -->')] + text + old[old.index(end) + len(end):])

def figure():
    "The paper's Fig. 2 from the shipped weights on sample test images: original | masked | reconstruction | + visible."
    import matplotlib; matplotlib.use('Agg')
    from mae_nb.weights import pretrained
    from mae_nb.data import FASHION_MNIST_STATS
    from mae_nb.patchify import load_sample
    from mae_nb.reconstructions import show_reconstructions
    x, y = load_sample('valid')  # 50 test images of each class
    pick = torch.stack([torch.nonzero(y == c)[0, 0] for c in (0, 1, 2, 5, 7, 8, 9)])
    (m,), (s,) = FASHION_MNIST_STATS
    fig = show_reconstructions(pretrained('fashion_mnist'), (x[pick].float() / 255 - m) / s, FASHION_MNIST_STATS, 0.75,
                               seed=1)
    fig.savefig(RESULTS/'reconstructions.png', dpi=80)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--ship', action='store_true', help="write the committed checkpoint's model to mae_nb/assets")
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    ship() if a.ship else main()
