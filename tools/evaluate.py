"""The paper's evaluation of a reference MAE (`mae_nb.pretrained(...)`, tools/reference.py), every run a stage of
the experiment runner (notebook 12).

    python tools/evaluate.py JOB ...                            # the 64-wide reference's jobs, in order
    python tools/evaluate.py --model fashion_mnist_128 JOB ...  # the 128-wide one's (notebook 14a)
    python tools/evaluate.py --list                             # the stages done and their results

Every setting is chosen on 'fashion_mnist_dev' (55,000 training images; 5,000 held out as the validation set). The
sweeps that choose a setting are runs that never read the test set (`run_stage(..., test=False)`), and a sweep whose
best value is at an end of its range goes on past that end (`choose`); a final run reads it once, when it is done,
as a stage of its own: for fine-tuning a longer run than its sweep's, for a probe the chosen sweep run repeated. The
choice of each sweep is written to results/<reference folder>/eval/choices.json.

Each stage's folder is results/<reference folder>/eval/<stage>: its result.json (the record) and epochs.csv are
committed, its checkpoints are not (a stage that is stopped resumes from them on the same machine;
`python tools/inflight.py save --runs results/<reference folder>/eval --archive .../inflight.tar` carries them on).
"""
import argparse, hashlib, json, sys, time
from dataclasses import replace
from pathlib import Path
import torch
from mae_nb.checkpoints import pretrained_path
from mae_nb.experiments import StageBusy, run_stage, stage_key
from mae_nb.linprobe import LinProbeConfig
from mae_nb.finetune import FinetuneConfig
from mae_nb.transfer import TransferConfig, digits_folder
from reference import MODELS as REFERENCES  # beside this file: the reference MAEs

ROOT = Path(__file__).resolve().parents[1]
MODELS = {name: dict(folder=m['folder'], arch=dict(preset='mae_vit_mini_patch4', precision=m['precision'],
                                                  **({'model_kwargs': m['model_kwargs']} if m['model_kwargs'] else {})))
          for name, m in REFERENCES.items()}  # each reference MAE's results folder, architecture and precision
REF = 'fashion_mnist'  # the evaluated encoder (`select` changes it)
OUT = ROOT/'results'/MODELS[REF]['folder']/'eval'
ARCH = MODELS[REF]['arch']  # the recorded 64-wide stages ran in fp32 (and their keys say so)
DATA = dict(source='fashion_mnist_dev')

def select(name:str):
    "Evaluate the reference MAE `name`: its weights, results folder and stage settings."
    global REF, OUT, ARCH
    REF, OUT, ARCH = name, ROOT/'results'/MODELS[name]['folder']/'eval', MODELS[name]['arch']

def ref_key() -> str: # the reference weights, by their content: stages of other weights get other keys
    return hashlib.sha1(Path(pretrained_path(REF)).read_bytes()).hexdigest()[:12]

# linear probes: the paper's head on cached features; base_lr swept at the final runs' length, 30 epochs (at 15 the
# sweep chose a rate under which the patch mean's 30-epoch probe diverged: its training loss rose from 0.41 to 1.4)
PROBE = dict(cached=True, bs=256)
PROBE_LRS, PROBE_EPOCHS = (0.5, 2., 8., 32.), 30
POOLS = ('token', 'avg', 'patches', 'pixels')
# fine-tuning: a short-schedule recipe (no mixup, cutmix, RandAugment or erasing: tuned for 100 ImageNet epochs, they
# slow a short run down); base lr swept at 3 epochs for MAE and for scratch apart, final runs FT_EPOCHS
FT = dict(bs=128, mixup=0., cutmix=0., rand_augment=False, reprob=0., save_every=1)
FT_LRS, FT_SWEEP_EPOCHS, FT_EPOCHS = (1e-3, 3e-3, 1e-2), 3, 30
# and the paper's recipe whole, for the largest reference: 100 epochs with mixup 0.8, cutmix 1.0, RandAugment and
# erasing 0.25 (FinetuneConfig's defaults from 50 epochs) at the lr the short sweep chose; the notebook keeps whichever
# of the two recipes scores higher on the held-out images
FT_LONG_EPOCHS = 100
SCRATCH = dict(layer_decay=1.)  # the paper's from-scratch recipe has no layer-wise decay
FEW = {0.01: 200, 0.1: 60}  # label fraction: epochs (about 8,000 and 20,000 steps' worth of images at batch 128)
PARTIAL = (0, 1, 2, 4, None)  # blocks tuned (None: all), at PARTIAL_EPOCHS
PARTIAL_EPOCHS = 10

def choices() -> dict:
    path = OUT/'choices.json'
    return json.loads(path.read_text()) if path.exists() else {}

def beyond(values:list) -> tuple[float, float]:
    "One step past each end of the sorted sweep `values`, by the ratio of that end's two values, to one digit."
    return float(f'{values[0]**2/values[1]:.1g}'), float(f'{values[-1]**2/values[-2]:.1g}')

def choose(name:str, make, values, steps:int=2) -> float:
    """Run the sweep of `make(value)` over `values` without reading the test set; keep the value of best validation
    top-1. While the best is at an end of the range, try one value past it (up to `steps` more): a choice at an end
    says only that the best lies there or beyond."""
    values, recs = sorted(values), {}
    for i in range(steps + 1):
        recs |= {v: stage(make(v), test=False) for v in values if v not in recs}
        best = max(recs, key=lambda v: recs[v]['top1'])
        if i == steps or best not in (values[0], values[-1]): break
        below, above = beyond(values)
        values = [below] + values if best == values[0] else values + [above]
    ch = choices()
    ch[name] = dict(chosen=best, valid_top1={str(v): recs[v]['top1'] for v in values},
                    note='chosen by top-1 on the 5,000 held-out training images; the test set was not read')
    OUT.mkdir(parents=True, exist_ok=True); (OUT/'choices.json').write_text(json.dumps(ch, indent=1))
    tried = ', '.join(f"{v}: {recs[v]['top1']:.4f}" for v in values)
    print(f"{name}: chose {best} ({tried})", flush=True)
    return best

def stage(cfg, name:str|None=None, test:bool=True) -> dict:
    up = ref_key() if getattr(cfg, 'checkpoint', None) == REF else ''
    key = stage_key(cfg, up)
    cfg = replace(cfg, out=str(OUT/(name or key)))
    return run_stage(cfg, key, log=lambda m: print(m, flush=True), test=test)

def probe(pool:str, **kw) -> LinProbeConfig:
    if pool == 'pixels': return LinProbeConfig(**DATA, **ARCH, **PROBE, pixels=True, **kw)
    return LinProbeConfig(**DATA, **ARCH, **PROBE, checkpoint=REF, pool=pool, **kw)

def finetune_cfg(mae:bool, **kw) -> FinetuneConfig:
    return FinetuneConfig(**DATA, **ARCH, **FT, **({'checkpoint': REF} if mae else SCRATCH), **kw)

def job_probe(pool:str):
    lr = choose(f'probe_{pool}', lambda v: probe(pool, base_lr=v, epochs=PROBE_EPOCHS), PROBE_LRS)
    stage(probe(pool, base_lr=lr, epochs=PROBE_EPOCHS), f'lp_{pool}')

def job_finetune(mae:bool):
    who = 'mae' if mae else 'scratch'
    lr = choose(f'ft_{who}', lambda v: finetune_cfg(mae, base_lr=v, epochs=FT_SWEEP_EPOCHS), FT_LRS)
    stage(finetune_cfg(mae, base_lr=lr, epochs=FT_EPOCHS), f'ft_{who}')

def finetune_long_cfg() -> FinetuneConfig:
    "The paper's 100-epoch fine-tuning recipe, augmentations and all, from the reference MAE (`FT_LONG_EPOCHS`)."
    return FinetuneConfig(**DATA, **ARCH, bs=FT['bs'], save_every=FT['save_every'], checkpoint=REF,
                          base_lr=choices()['ft_mae']['chosen'], epochs=FT_LONG_EPOCHS)

def job_finetune_long(): stage(finetune_long_cfg(), 'ft_mae_long')

def job_seed(mae:bool, seed:int=1):
    "The 30-epoch fine-tuning again with another seed, at the lr chosen for seed 0: how far a seed moves it."
    who = 'mae' if mae else 'scratch'
    lr = choices()[f'ft_{who}']['chosen']
    stage(finetune_cfg(mae, base_lr=lr, epochs=FT_EPOCHS, seed=seed), f'ft_{who}_seed{seed}')

def job_few(mae:bool):
    who = 'mae' if mae else 'scratch'
    lr = choices()[f'ft_{who}']['chosen']  # the full-data choice: a sweep per fraction would cost as much again
    for frac, epochs in FEW.items():
        stage(finetune_cfg(mae, base_lr=lr, epochs=epochs, label_frac=frac), f'ft_{who}_labels{frac:g}')

def job_partial():
    "Fine-tune k = 0, 1, 2, 4 and all blocks; processes can share the list (a stage another one runs is taken later)."
    lr = choices()['ft_mae']['chosen']
    todo = list(PARTIAL)
    while todo:
        k = todo.pop(0)
        try: stage(finetune_cfg(True, base_lr=lr, epochs=PARTIAL_EPOCHS, blocks=k), f'ft_k{"all" if k is None else k}')
        except StageBusy:
            todo.append(k)
            if len(todo) == 1: time.sleep(30)  # only a stage another process runs is left: wait for it

def job_transfer():
    "The digits transfer (32 px RGB, 1,438 training images) from the shipped MAE and from scratch: defaults, 15 epochs."
    digits = str(digits_folder(ROOT/'results'/'data'/'digits'))
    stage(TransferConfig(source=digits, checkpoint=REF, img_size=32, in_chans=3, epochs=15, **ARCH), 'transfer_digits')
    arch = {**ARCH, 'model_kwargs': {**ARCH.get('model_kwargs', {}), 'img_size': 32, 'in_chans': 3}}
    stage(FinetuneConfig(source=digits, epochs=15, **SCRATCH, **arch), 'scratch_digits')

def job_small_data():
    "A short transfer to a small folder, as a new user runs it: the defaults before and after they fit the data size."
    digits = str(digits_folder(ROOT/'results'/'data'/'digits'))
    base = dict(source=digits, img_size=32, in_chans=3, epochs=5, checkpoint=REF, **ARCH)
    stage(TransferConfig(**base, bs=256, base_lr=5e-4, mixup=0.8, cutmix=1.0, rand_augment=True, reprob=0.25),
          'small_digits_paper_defaults')
    stage(TransferConfig(**base), 'small_digits_defaults')

JOBS = {**{f'probe_{p}': (lambda p=p: job_probe(p)) for p in POOLS},
        'ft_scratch': lambda: job_finetune(False), 'ft_mae': lambda: job_finetune(True),
        'ft_mae_seed1': lambda: job_seed(True), 'ft_scratch_seed1': lambda: job_seed(False),
        'ft_mae_long': job_finetune_long, 'few_scratch': lambda: job_few(False), 'few_mae': lambda: job_few(True),
        'partial': job_partial, 'transfer': job_transfer, 'small_data': job_small_data}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('jobs', nargs='*', help=f'some of {list(JOBS)}')
    p.add_argument('--model', default=REF, choices=list(MODELS), help='which reference MAE')
    p.add_argument('--threads', type=int, default=None); p.add_argument('--list', action='store_true')
    a = p.parse_args()
    select(a.model)
    if a.threads: torch.set_num_threads(a.threads)
    if a.list or not a.jobs:
        for d in sorted(OUT.glob('*/result.json')):
            r = json.loads(d.read_text()); print(d.parent.name, r['stage'], f"{r['top1']:.4f}", r.get('test_top1'))
        sys.exit(0)
    bad = set(a.jobs) - set(JOBS)
    if bad: sys.exit(f"unknown jobs {sorted(bad)}; expected some of {list(JOBS)}")
    for j in a.jobs: JOBS[j]()
