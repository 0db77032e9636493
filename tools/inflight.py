"""Carry the experiment grids' unfinished stages from one machine to the next: one archive in the repo, overwritten.

    python tools/inflight.py save       # before the machine goes: each unfinished stage's newest checkpoint and logs
    python tools/inflight.py restore    # on a fresh machine, before `mae-nb experiment`: back under runs/ablations
    python tools/inflight.py list       # what the archive holds

A grid's stages write their checkpoints under `runs/ablations/<stage>/`, which git ignores; a finished stage needs
nothing more (its record is in the results files), but a stage stopped half way would start again from nothing on
another machine. `save` keeps, for each stage folder without a `result.json`, its newest checkpoint, `config.yaml` and
logs, and of every finished stage its record and logs, in `results/ablations/inflight.tar` (replaced whole, so the
repo holds one such file). A finished pretraining's final weights go too while a cell not yet done starts from them
(`in_use`, from the grids of `mae-nb experiment`); once its cells are done they stay behind, so the archive does not
grow with every cell the grids finish. `restore` unpacks into
`runs/ablations/` the stages that are not there already, finished or further along; `mae-nb experiment` then resumes
them where they stopped.
"""
import argparse, os, tarfile
from pathlib import Path

RUNS, ARCHIVE = Path('runs/ablations'), Path('results/ablations/inflight.tar')
LOGS = ('config.yaml', 'epochs.csv', 'steps.csv')

def _epoch(ck:Path) -> int: return int(ck.stem.split('-')[-1]) if ck.stem.split('-')[-1].isdigit() else -1

def unfinished(runs:Path=RUNS) -> list: # [(stage folder, its newest checkpoint)]
    "The stage folders under `runs` that have a checkpoint but no `result.json`."
    out = []
    for d in sorted(p for p in runs.glob('*') if p.is_dir()):
        cks = sorted(d.glob('checkpoint-*.pth'), key=_epoch)
        if cks and not (d/'result.json').exists(): out.append((d, cks[-1]))
    return out

def in_use(budget:str='cpu10', root:Path=Path('results/ablations'), runs:Path=RUNS) -> set:
    "The pretraining stage folders that an unfinished cell of `budget`'s grids starts from (seed runs and tunings too)."
    from mae_nb.grids import get_budget, run_grid, cell_stages
    from mae_nb.cells import grid_cells
    b = get_budget(budget)
    todo = {(g, label) for g, label, status in run_grid('all', budget, root, runs, dry_run=True) if status != 'done'}
    out = set()
    for g, label, s in grid_cells(b.grids or 'all', b.seeds, b.seed_grids, b):
        if (g, label) not in todo or s.get('scratch'): continue
        s = {k: (1e-3 if v == 'tuned' else v) for k, v in s.items()}  # a fine-tuning lr leaves the pretraining's key
        out.add(Path(cell_stages(b, s, runs)['pretrain'][1].out).name)
    return out

def save(runs:Path=RUNS, archive:Path=ARCHIVE,
         keep:set|None=None, # the finished pretrainings whose weights go too (None: `in_use()`)
        ) -> list:
    "Write the newest checkpoint and logs of every unfinished stage to `archive` (replaced whole); their names."
    stages, keep = unfinished(runs), in_use(runs=runs) if keep is None else keep
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_suffix('.tar.tmp')
    with tarfile.open(tmp, 'w') as tar:
        for d, ck in stages:
            for f in [ck, *(d/n for n in LOGS if (d/n).exists())]: tar.add(f, arcname=f'{d.name}/{f.name}')
        for d in sorted(runs.glob('*/result.json')):  # finished stages' records (tuning runs, stages cells still need)
            d = d.parent
            cks = sorted(d.glob('checkpoint-*.pth'), key=_epoch)
            files = [d/'result.json', *(d/n for n in LOGS if (d/n).exists())] + (cks[-1:] if d.name in keep else [])
            for f in files: tar.add(f, arcname=f'{d.name}/{f.name}')  # a pretraining's weights: next stages start there
    os.replace(tmp, archive)
    return [f'{d.name} (epoch {_epoch(ck)})' for d, ck in stages]

def restore(runs:Path=RUNS, archive:Path=ARCHIVE) -> list:
    "Unpack the stages of `archive` that `runs` does not hold already (finished, or as far along); their names."
    if not archive.exists(): return []
    done = []
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for stage in sorted({m.name.split('/')[0] for m in members}):
            d = runs/stage
            theirs = max((_epoch(Path(m.name)) for m in members if m.name.startswith(f'{stage}/checkpoint-')),
                         default=-1)
            ours = max((_epoch(c) for c in d.glob('checkpoint-*.pth')), default=-1)
            finished_there = any(m.name == f'{stage}/result.json' for m in members)
            if (d/'result.json').exists() or (ours >= theirs and not finished_there): continue
            d.mkdir(parents=True, exist_ok=True)
            for m in members:
                if m.name.startswith(f'{stage}/') and m.isfile() and '..' not in m.name:
                    (runs/m.name).write_bytes(tar.extractfile(m).read())
            done.append(f'{stage} (epoch {theirs})')
    return done

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', choices=('save', 'restore', 'list'))
    ap.add_argument('--runs', type=Path, default=RUNS, help='the grids\' stage folders')
    ap.add_argument('--archive', type=Path, default=ARCHIVE, help='the archive in the repo')
    a = ap.parse_args()
    if a.what == 'list':
        with tarfile.open(a.archive) as tar:
            print('\n'.join(f'{m.name} {m.size / 1e6:.1f} MB' for m in tar.getmembers()))
    else:
        names = (save if a.what == 'save' else restore)(a.runs, a.archive)
        print(f"{a.what}d {len(names)} unfinished stages{': ' if names else ''}{', '.join(names)}")
