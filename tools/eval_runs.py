"""Evaluate one pretrained encoder the paper's ways and record the results under results/eval/<job>/.

    python tools/eval_runs.py RUN [--pretrain-epochs 16] [--ft-epochs 2] [--transfer-epochs 15] [--jobs lp_mae ft_k1 ...]

RUN is a `mae-nb pretrain` run folder (or checkpoint) on Fashion-MNIST (28 px grey). With --pretrain-epochs, a
folder that holds fewer epochs is first pretrained (or resumed) to that many with the recipe of PRETRAIN below.
Jobs:
- lp_mae, lp_mae_avg, lp_random, lp_pixels: linear probes on full Fashion-MNIST (cached features): the encoder
  (cls token; mean of the patch tokens), the same architecture at MAE's initialisation, and raw pixels;
- ft_k0 ... ft_k<depth>, ft_mlp: fine-tuning the last k blocks (Fig. 9) on full Fashion-MNIST;
- scratch: the same ViT trained from scratch with the fine-tuning budget;
- transfer_digits, scratch_digits: the encoder moved to scikit-learn's digits at 32 px RGB, vs from scratch.
Each job keeps its run folder (results/eval/<job>: epochs.csv and result.json are committed, checkpoints are not);
a finished job (result.json present) is skipped; each runs as a stage of the experiment runner (notebook 12):
an interrupted one resumes from its checkpoint, and its record is its result.json, with the test top-1.
"""
import argparse, json, shutil, sys
from pathlib import Path
from mae_nb.pretrain import PretrainConfig, pretrain
from mae_nb.train import latest_checkpoint, load_training_checkpoint
from mae_nb.linprobe import LinProbeConfig
from mae_nb.checkpoints import read_encoder
from mae_nb.finetune import FinetuneConfig
from mae_nb.transfer import TransferConfig, digits_folder
from mae_nb.experiments import run_stage

ROOT = Path(__file__).resolve().parents[1]/'results'/'eval'  # --root changes it
# the encoder of results/eval: a 128-wide, 6-block ViT, 2-block decoder, full Fashion-MNIST
PRETRAIN = dict(source='fashion_mnist', bs=256, base_lr=1.5e-3, warmup_epochs=1,
                model_kwargs=dict(embed_dim=128, depth=6, num_heads=4, decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4))

def jobs(ck:str, ft_epochs:int, tr_epochs:int) -> dict:
    cfg = load_training_checkpoint(ck if Path(ck).is_file() else latest_checkpoint(ck))['config']
    arch = dict(preset=cfg['preset'], model_kwargs=cfg['model_kwargs'])
    depth = read_encoder(ck)[1]['depth']
    fm = dict(source='fashion_mnist', bs=256)
    lp = dict(**fm, cached=True, epochs=90, base_lr=2.0)  # base_lr 0.1 x 1.28M / 60k images (notebook 09)
    # a budget of a few epochs: the paper's mixup, cutmix, RandAugment and erasing (tuned for 100) only slow it down
    light = dict(mixup=0., cutmix=0., rand_augment=False, reprob=0.)
    ft = dict(**fm, **light, epochs=ft_epochs, base_lr=1e-3)
    digits = str(digits_folder(ROOT.parent/'data'/'digits'))
    tr = dict(source=digits, img_size=32, in_chans=3, epochs=tr_epochs, bs=64, base_lr=1e-3, **light)
    js = {'lp_mae': LinProbeConfig(checkpoint=ck, **lp),
          'lp_mae_avg': LinProbeConfig(checkpoint=ck, pool='avg', **lp),
          'lp_random': LinProbeConfig(checkpoint=None, **arch, **lp),
          'lp_pixels': LinProbeConfig(pixels=True, **lp)}
    for k in sorted({0, 1, 2, 4, depth} & set(range(depth + 1))) + ['mlp']:
        js[f'ft_k{k}' if k != 'mlp' else 'ft_mlp'] = FinetuneConfig(checkpoint=ck, blocks=k, **ft)
    js['scratch'] = FinetuneConfig(checkpoint=None, **arch, **ft)
    js['transfer_digits'] = TransferConfig(checkpoint=ck, **tr)
    js['scratch_digits'] = FinetuneConfig(checkpoint=None, preset=cfg['preset'],
                                                     model_kwargs={**cfg['model_kwargs'], 'img_size': 32, 'in_chans': 3},
                                                     **{k: v for k, v in tr.items() if k not in ('img_size', 'in_chans')})
    return js

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('checkpoint'); p.add_argument('--ft-epochs', type=int, default=2)
    p.add_argument('--pretrain-epochs', type=int, default=None, help='pretrain RUN to this many epochs first')
    p.add_argument('--transfer-epochs', type=int, default=15); p.add_argument('--jobs', nargs='*')
    p.add_argument('--root', default=None, help='results folder (default results/eval)')
    a = p.parse_args()
    global ROOT
    if a.root: ROOT = Path(a.root)
    if a.pretrain_epochs:
        last = latest_checkpoint(a.checkpoint)
        if last is None or int(last.stem.split('-')[1]) < a.pretrain_epochs:
            pretrain(PretrainConfig(**PRETRAIN, epochs=a.pretrain_epochs, out=a.checkpoint), resume=True if last else None)
    js = jobs(a.checkpoint, a.ft_epochs, a.transfer_epochs)
    unknown = set(a.jobs or []) - set(js)
    if unknown: sys.exit(f"unknown jobs {sorted(unknown)}; expected some of {list(js)}")
    pre = ROOT/'pretrain'; pre.mkdir(parents=True, exist_ok=True)
    src = Path(a.checkpoint) if Path(a.checkpoint).is_dir() else Path(a.checkpoint).parent
    if (src/'epochs.csv').exists(): shutil.copy(src/'epochs.csv', pre/'epochs.csv')
    ck = load_training_checkpoint(a.checkpoint if Path(a.checkpoint).is_file() else latest_checkpoint(a.checkpoint))
    (pre/'config.json').write_text(json.dumps({**ck['config'], 'epochs_done': ck['epoch']}, indent=1, default=str))
    for name in (a.jobs or js):
        cfg = js[name]
        cfg.out = str(ROOT/name)
        if (ROOT/name/'result.json').exists(): print(f'{name}: done already'); continue
        rec = run_stage(cfg, log=lambda m: print(m, flush=True))  # the experiment runner: resumed, locked, recorded
        print(f"{name}: top-1 {rec['top1']:.4f} in {rec['wall_s']:.0f} s", flush=True)

if __name__ == '__main__': main()
