"""A small MAE's short-schedule recipe on a CPU: a search on the held-out split, the chosen recipe's learning curve.

    python tools/short_schedule.py search [NAME ...]   # one-at-a-time changes to BASE, each pretrained and probed
    python tools/short_schedule.py pixels              # the same probe on raw pixels: the bar to pass
    python tools/short_schedule.py curve               # the chosen recipe (CHOSEN) for 30 epochs, probed as it goes
    python tools/short_schedule.py probe 0             # add a probe of a fresh initialisation (or: probe 2 CHECKPOINT)

Everything trains on 'fashion_mnist_dev' (55,000 of Fashion-MNIST's training images) and is measured on the 5,000
held out of them; the test set is never read. Each search entry writes results/short_schedule/search/<name>.json:
its settings, the final validation loss and `recon_ratio` (notebook 08a), the cached linear probe's top-1 for the
cls token, the patch mean and the patch tokens side by side (notebook 09), wall times and the machine. A finished
entry is skipped; a stopped one resumes from its checkpoint in runs/short_schedule/.
The curve writes results/short_schedule/curve/{epochs.csv,probes.json,result.json}; notebook 08a plots them.
"""
import argparse, json, os, platform, shutil, time
from pathlib import Path
import torch
from mae_nb.loaders import mae_dataloaders
from mae_nb.pretrain import PretrainConfig, pretrain
from mae_nb.reconstructions import reconstruction_ratio
from mae_nb.train import latest_checkpoint
from mae_nb.linprobe import ProbeCurve, probe_top1, pooled_features

ROOT = Path(__file__).resolve().parents[1]
RESULTS, RUNS = ROOT/'results'/'short_schedule', ROOT/'runs'/'short_schedule'
PROBE = dict(epochs=15, bs=256, base_lr=8.)  # one probe for every entry, the pixel baseline included

BASE = dict(source='fashion_mnist_dev', preset='mae_vit_mini_patch4', epochs=4, bs=128, base_lr=2e-3, warmup_epochs=0.5,
            weight_decay=0.05, norm_pix_loss=False, save_every=1, precision='fp32')  # fp32, as the recorded runs
SEARCH = {  # one change to BASE each
    'base': {},
    'norm_pix': dict(norm_pix_loss=True),
    'lr_5e-4': dict(base_lr=5e-4),
    'lr_8e-3': dict(base_lr=8e-3),
    'wd_0.15': dict(weight_decay=0.15),
    'bs_256': dict(bs=256),
    'warmup_1': dict(warmup_epochs=1.),
    'decoder_128x2': dict(model_kwargs=dict(decoder_embed_dim=128)),
    'decoder_64x4': dict(model_kwargs=dict(decoder_depth=4)),
    'decoder_64x1': dict(model_kwargs=dict(decoder_depth=1)),
    'encoder_96x4': dict(model_kwargs=dict(embed_dim=96, depth=4, num_heads=4)),
    'encoder_64x6_2heads': dict(model_kwargs=dict(num_heads=2)),
    'seed_1': dict(seed=1),  # the base again with another seed: how far chance alone moves the numbers
}
CHOSEN = dict(base_lr=8e-3)  # the change to BASE that the search chose (results/short_schedule/search, notebook 08a)
CURVE_EPOCHS, CURVE_AT = 30, (2, 4, 8, 15, 22, 30)

def machine() -> str:
    names = ([l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
             if Path('/proc/cpuinfo').exists() else [])
    return (f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}")

def probe_loaders(source='fashion_mnist_dev'):
    dls = mae_dataloaders(source, bs=512, augment=False, seed=0)
    return dls.train, dls.valid

def run(name:str, settings:dict, epochs:int, at, folder:Path, runs:Path) -> dict:
    "Pretrain BASE + settings for `epochs`, probing after the epochs `at`; write folder/result.json (or name.json)."
    cfg = PretrainConfig(**{**BASE, **settings, 'epochs': epochs, 'out': str(runs)})
    probes = folder/'probes.json'
    t0 = time.time()
    train_dl, valid_dl = probe_loaders(cfg.source)
    learn = pretrain(cfg, resume=True if latest_checkpoint(runs) else None, figures=False,
                     cbs=[ProbeCurve(train_dl, valid_dl, at, probes, **PROBE)])
    wall = time.time() - t0
    rows = json.loads(probes.read_text())
    probe_s = sum(r['probe_s'] for r in rows)
    rec = reconstruction_ratio(learn.model, learn.dls.valid, learn.dls.stats, cfg.mask_ratio)
    shutil.copy(runs/'epochs.csv', folder/'epochs.csv')
    last = rows[-1]
    res = dict(name=name, settings=settings, config={k: v for k, v in vars(cfg).items()},
               valid_loss=learn.recorder.values[-1][1], reconstruction=rec,
               probe={p: last[p] for p in ('token', 'avg', 'patches')}, probe_settings=PROBE,
               wall_s=round(wall, 1), probe_s=round(probe_s, 1), compiled=learn.compiled, machine=machine(),
               date=time.strftime('%Y-%m-%d'))
    return res

def search(names):
    (RESULTS/'search').mkdir(parents=True, exist_ok=True)
    for name in names or SEARCH:
        out = RESULTS/'search'/f'{name}.json'
        if out.exists(): print(f'{name}: done'); continue
        folder = RUNS/'search'/name; folder.mkdir(parents=True, exist_ok=True)
        res = run(name, SEARCH[name], BASE['epochs'], [BASE['epochs']], folder, folder/'run')
        out.write_text(json.dumps(res, indent=1, default=str))
        print(f"{name}: recon_ratio {res['reconstruction']['ratio']:.3f}, probe " +
              ', '.join(f"{k} {v:.4f}" for k, v in res['probe'].items()) + f", {res['wall_s']:.0f} s", flush=True)

def pixels():
    train_dl, valid_dl = probe_loaders()
    tr, va = (pooled_features(None, dl, ('pixels',))['pixels'] for dl in (train_dl, valid_dl))
    res = dict(top1=probe_top1(tr, va, 10, **PROBE), probe_settings=PROBE,
               machine=machine(), date=time.strftime('%Y-%m-%d'))
    (RESULTS/'pixels.json').parent.mkdir(parents=True, exist_ok=True)
    (RESULTS/'pixels.json').write_text(json.dumps(res, indent=1))
    print(f"raw pixels: {res['top1']:.4f}")

def probe(epoch:int, checkpoint:str|None):
    "Add the probe of a checkpoint (or, without one, of a fresh MAE initialisation) to the curve as `epoch`."
    from mae_nb.weights import vit_from_checkpoint
    from mae_nb.model import create_mae
    t0 = time.time()
    if checkpoint: sd = torch.load(checkpoint, weights_only=True)['model']
    else: torch.manual_seed(0); sd = create_mae(BASE['preset'], norm_pix_loss=False).state_dict()
    vit = vit_from_checkpoint({'model': sd}, global_pool='token', fc_norm=False, num_heads=4)
    (tr, va) = (pooled_features(vit, dl) for dl in probe_loaders())
    row = {'epoch': epoch, **{p: probe_top1(tr[p], va[p], 10, **PROBE) for p in ('token', 'avg', 'patches')},
           'probe_s': round(time.time() - t0, 1)}
    path = RESULTS/'curve'/'probes.json'
    rows = [r for r in (json.loads(path.read_text()) if path.exists() else []) if r['epoch'] != epoch]
    path.write_text(json.dumps(sorted(rows + [row], key=lambda r: r['epoch']), indent=1))
    print(row)

def curve():
    folder = RESULTS/'curve'; folder.mkdir(parents=True, exist_ok=True)
    res = run('curve', CHOSEN, CURVE_EPOCHS, CURVE_AT, folder, RUNS/'curve')
    (folder/'result.json').write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps(res['probe']), res['reconstruction'])

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('job', choices=['search', 'pixels', 'curve', 'probe']); p.add_argument('names', nargs='*')
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    {'search': lambda: search(a.names), 'pixels': pixels, 'curve': curve,
     'probe': lambda: probe(int(a.names[0]), a.names[1] if len(a.names) > 1 else None)}[a.job]()
