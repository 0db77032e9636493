"""bf16 autocast against fp32 in training: the same seed and settings, and fp32's own seed spread beside them.

    python tools/precision_check.py            # every stage, resumable; two processes can share the list
    python tools/precision_check.py --list     # the stages and whether each is done

Each model pretrains on the 55,000 development images of Fashion-MNIST ('fashion_mnist_dev') three times: fp32 with
seeds 0 and 1 (the spread that seed noise alone gives) and bf16 with seed 0. Each pretraining is then judged on the
5,000 held-out images, in its own precision: the reconstruction ratio of its last epoch, a linear probe of the cls
token on cached features, and a short fine-tuning. Nothing is chosen here and the test set is not read.

- `mini`: `mae_vit_mini_patch4` (64 wide, 6 blocks), the reference recipe of the `cpu10` budget: 10 epochs, batch
  128, base lr 8e-3, pixel targets; probe 30 epochs, fine-tuning 3.
- `w192`: the same recipe with a 192-wide encoder (6 blocks, 6 heads, the same 64 x 2 decoder), 5 epochs; probe 30
  epochs, fine-tuning 1.

Every stage runs through the experiment runner (notebook 12) in runs/precision/<stage>; what notebook 08a reads is
copied to results/precision/<stage>: result.json, epochs.csv and the step loss every 10 steps (loss.csv). A stage
whose copy is there is done; on another machine a pretraining runs again only for a later stage that needs it.
"""
import argparse, csv, json, shutil, sys, time
from pathlib import Path
import torch
from mae_nb.experiments import StageBusy, run_stage, stage_key
from mae_nb.checkpoints import latest_checkpoint
from mae_nb.pretrain import PretrainConfig
from mae_nb.linprobe import LinProbeConfig
from mae_nb.finetune import FinetuneConfig

ROOT = Path(__file__).resolve().parents[1]
RUNS, RESULTS = ROOT/'runs'/'precision', ROOT/'results'/'precision'
DATA = dict(source='fashion_mnist_dev', bs=128, preset='mae_vit_mini_patch4')
MODELS = {  # name: (encoder overrides of the preset, pretraining epochs, fine-tuning epochs)
    'mini': ({}, 10, 3),
    'w192': (dict(embed_dim=192, num_heads=6), 5, 1),
}
RUNS_OF = (('fp32', 0), ('fp32', 1), ('bf16', 0))  # (precision, seed)

def stages(model:str, precision:str, seed:int) -> dict:
    "The pretraining, probe and fine-tuning stage configs of one run, named `<model>_<precision>_s<seed>_<stage>`."
    kw, epochs, ft_epochs = MODELS[model]
    name = f'{model}_{precision}_s{seed}'
    common = dict(**DATA, precision=precision, seed=seed, model_kwargs=kw)
    pre = PretrainConfig(**common, epochs=epochs, base_lr=8e-3, norm_pix_loss=False, out=str(RUNS/f'{name}_pretrain'))
    ck = pre.out
    probe = LinProbeConfig(**{**common, 'bs': 256}, checkpoint=ck, epochs=30, base_lr=2., cached=True, save_every=10,
                           out=str(RUNS/f'{name}_probe'))
    ft = FinetuneConfig(**common, checkpoint=ck, epochs=ft_epochs, base_lr=1e-2, mixup=0., cutmix=0.,
                        rand_augment=False, reprob=0., out=str(RUNS/f'{name}_finetune'))
    return {f'{name}_pretrain': pre, f'{name}_probe': probe, f'{name}_finetune': ft}

def all_runs():
    "Run by run, cheapest model first: each run is pretraining, then its probe and its fine-tuning."
    return [(m, p, s) for m in MODELS for p, s in RUNS_OF]

def keep(name:str, cfg):
    "Copy what the notebook reads to results/precision/<name>: result.json, epochs.csv, loss.csv (every 10th step)."
    src, dst = Path(cfg.out), RESULTS/name
    dst.mkdir(parents=True, exist_ok=True)
    for f in ('result.json', 'epochs.csv'):
        if (src/f).exists(): shutil.copyfile(src/f, dst/f)
    if (src/'steps.csv').exists():
        with open(src/'steps.csv') as f: rows = list(csv.DictReader(f))
        with open(dst/'loss.csv', 'w', newline='') as f:
            w = csv.writer(f); w.writerow(['step', 'loss'])
            w.writerows((r['step'], r['loss']) for r in rows if int(r['step']) % 10 == 0)

def run(model:str, precision:str, seed:int):
    "The run's stages not yet in results/precision; its pretraining again if a later one needs its missing checkpoint."
    st = stages(model, precision, seed)
    todo = [n for n in st if not (RESULTS/n/'result.json').exists()]
    pre_key = None
    for name, cfg in st.items():
        key = stage_key(cfg, pre_key or '')
        if name.endswith('_pretrain'):
            pre_key = key
            needed = any(not n.endswith('_pretrain') for n in todo) and latest_checkpoint(cfg.out) is None
            if name not in todo and not needed: continue
        elif name not in todo: continue
        run_stage(cfg, key, log=lambda m: print(m, flush=True), test=False)
        keep(name, cfg)

def main(a):
    if a.threads: torch.set_num_threads(a.threads)
    todo = all_runs()
    if a.list:
        for m, p, s in todo:
            for name, cfg in stages(m, p, s).items():
                print(f"{name:28s} {'done' if (RESULTS/name/'result.json').exists() else 'to run'}")
        return
    while todo:
        m, p, s = todo.pop(0)
        try: run(m, p, s)
        except StageBusy:  # another process runs one of its stages: come back to it
            todo.append((m, p, s))
            if len(todo) == 1: time.sleep(30)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--list', action='store_true', help='the stages and whether each is done')
    ap.add_argument('--threads', type=int, help='torch threads of this process (two processes of 1 on 2 cores)')
    main(ap.parse_args())
