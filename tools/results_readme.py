"""Write `results/README.md`: where and when each committed result was made, its cost, and the targets met or missed.

    python tools/results_readme.py          # rewrite results/README.md from the results files
    python tools/results_readme.py --check  # exit 1 if results/README.md is not what the files say (tests/test_repo.py)

The notebooks read the results files for their numbers; the machines, dates and thread-hours behind them are
gathered here, from the same files, so that neither can go stale: every record that says where it ran (`hardware`
or `machine`), when (`finished` or `date`) and for how long (`wall_s`) is counted under its folder.
"""
import argparse, json, re, sys
from collections import defaultdict
from pathlib import Path
from mae_nb.targets import TARGETS, evaluation, meets  # the numbers each reference MAE is held to

ROOT, OUT = Path('results'), Path('results/README.md')
GROUPS = ('ablations/cpu10', 'ablations/cpu', 'ablations/tuning', 'reference/eval', 'reference', 'reference_128/eval',
          'reference_128', 'reference_192/eval', 'reference_192', 'short_schedule', 'precision')
WHAT = {'ablations/cpu10': "the paper's ablations and model-size grid at the `cpu10` budget "
                           "(notebooks 12a-12b, 13, 14)",
        'ablations/cpu': 'the first, reduced ablation grid (notebook 13)',
        'ablations/tuning': 'learning rates chosen on the held-out images (notebook 12b)',
        'reference/eval': "the shipped MAE's evaluations: probes, fine-tuning, few labels, transfer (notebooks 09-11)",
        'reference': 'the shipped MAE: 100 pretraining epochs (notebook 08a)',
        'reference_128/eval': "the 128-wide MAE's evaluations: probes and fine-tuning (notebook 14a)",
        'reference_128': 'the 128-wide MAE: 100 pretraining epochs (notebook 14a)',
        'reference_192/eval': "the 192-wide MAE's evaluations: probes and fine-tuning (notebook 14a)",
        'reference_192': 'the 192-wide MAE: 100 pretraining epochs (notebook 14a)',
        'short_schedule': 'the short-schedule recipe search and its learning curve (notebook 08a)',
        'precision': 'bf16 against fp32, pretraining to fine-tuning (notebook 08a)'}
MODELS = {'reference': "`pretrained('fashion_mnist')`, 64 wide", 'reference_128': 'the 128-wide MAE',
          'reference_192': 'the 192-wide MAE'}
PIXELS = 'reference/eval/lp_pixels/result.json'  # a linear probe on raw pixels, which the cls token's should beat

def _group(p:Path) -> str: return next(g for g in GROUPS if str(p.relative_to(ROOT)).startswith(g + '/'))

def _records():
    for p in sorted(ROOT.rglob('*.json')):
        try: r = json.loads(p.read_text())
        except ValueError: continue
        if isinstance(r, dict) and (r.get('hardware') or r.get('machine')): yield p, r

def _threads(where:str) -> int: return int(m[1]) if (m := re.search(r'(\d+) threads', where)) else 1

def summary() -> dict: # group -> {'n', 'dates', 'committed', 'machines', 'thread_h'}
    out, runs = defaultdict(lambda: dict(n=0, dates=set(), committed=set(), machines=set(), thread_h=None)), {}
    for p, r in _records():
        g, where = _group(p), r.get('hardware') or r.get('machine')
        out[g]['n'] += 1; out[g]['machines'].add(re.sub(r', \d+ threads.*', '', where))
        if (d := r.get('finished') or r.get('date')): out[g]['dates'].add(d[:10])
        elif r.get('committed'): out[g]['committed'].add(r['committed'][:10])  # a record that does not say when
        # a grid cell's stages and a tuning record's runs by their keys, else the record's own run
        rs = [(s['key'], s) for s in r['stages'].values()] if isinstance(r.get('stages'), dict) else \
             [(s['key'], s) for s in r['runs']] if isinstance(r.get('runs'), list) else [(p, r)]
        for key, run in rs:
            if 'wall_s' not in run: continue
            h = run['wall_s'] * _threads(run.get('hardware') or where) / 3600
            # once per stage however many records share it: the longest record of it (a cell that reuses a
            # finished stage records only the time it took to read it again)
            if key not in runs or h > runs[key][1]: runs[key] = (g, h)
    for g, h in runs.values(): out[g]['thread_h'] = (out[g]['thread_h'] or 0.) + h
    return out

def _metric(f:str, m:str) -> float: return json.loads((ROOT/f).read_text())[m]

def render() -> str:
    rows = ['| results | what | records | dates | machines | thread-hours |', '|---|---|---|---|---|---|']
    s = summary()
    for g in GROUPS:
        if g not in s: continue
        dates = '; '.join(f'{how}{d[0]}' + (f' to {d[-1]}' if d[-1] != d[0] else '') for how, d in
                          (('', sorted(s[g]['dates'])), ('committed ', sorted(s[g]['committed']))) if d) or '—'
        hours = '—' if s[g]['thread_h'] is None else f"{s[g]['thread_h']:.1f}"
        machines = '; '.join(sorted(s[g]['machines']))
        rows.append(f"| `results/{g}` | {WHAT[g]} | {s[g]['n']} | {dates} | {machines} | {hours} |")
    total = sum(v['thread_h'] or 0. for v in s.values())
    targets = ['| model | target | ours | met |', '|---|---|---|---|']
    px = _metric(PIXELS, 'test_top1')
    for model, name in MODELS.items():
        if not (ROOT/model).is_dir(): continue  # a reference not started
        for stage, (what, target) in TARGETS.items():
            if target is None: continue
            r = evaluation(ROOT/model, stage); met = 'yes' if meets(r, stage) else '**no**'
            targets.append(f"| {name} | {what}, test top-1 (target {target:g}%) | " +
                           ('not run | |' if r is None else f"{100 * r['test_top1']:.2f}% | {met} |"))
        r = evaluation(ROOT/model, 'lp_token')
        targets.append(f'| {name} | linear probe on the cls token beats one on raw pixels | ' + (
            'not run | |' if r is None else
            f"{100 * r['test_top1']:.2f}% against {100 * px:.2f}% | {'yes' if r['test_top1'] > px else '**no**'} |"))
    return '\n'.join([
        '# Results: where and when they were made', '',
        'Every number the notebooks show is read from the files in this folder. '
        'This page says which machine made them,',
        'when, and at what cost, gathered from the same files '
        '(`python tools/results_readme.py` writes it; a test checks',
        'that it is current). "Machines" is the CPU or GPU a record names: records written before 2026-12-06 say only',
        '"CPU x86_64"; those runs were made on 2-core AMD EPYC machines. A thread-hour is a run\'s wall time times its',
        'torch threads, counted once per stage however many grid cells share it; "—": the record gives no time.',
        'Dates are when the runs finished, or for records that do not say, when they were committed at their path',
        '(a record that was moved is dated by its move).',
        '',
        *rows, '', f'In all: {total:.1f} thread-hours.', '',
        '## Targets', '', 'The reference MAEs against the numbers they are held to:', '',
        *targets, ''])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0]); ap.add_argument('--check', action='store_true')
    a = ap.parse_args()
    text = render()
    if a.check: sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.write_text(text); print(f'wrote {OUT}')
