"""The tools that read the grids (notebook 13), on made-up results: seed statistics, the verdict on each of the
paper's claims, and each target shown failing as well as passing."""
import contextlib, io
import pytest
from fastcore import test as fc  # as a module: pytest would collect its test_* functions
from mae_nb.ablations import (seed_groups, cell_stats, seed_spread, verdict, readings, check_targets, show_targets,
                              plot_ablations)

def _r(grid, cell, **m): return dict(grid=grid, cell=cell, metrics=m)

@pytest.fixture
def toy() -> dict:
    "Five cells of a mask-ratio grid, two of them with a second seed."
    return {'mask_ratio': {c: _r('mask_ratio', c, probe_test_top1=v) for c, v in
                           [('0.5', .80), ('0.75', .82), ('0.5 seed 1', .81), ('0.75 seed 1', .85), ('0.9', .79)]}}

def test_seed_statistics(toy):
    fc.test_eq(list(seed_groups(toy['mask_ratio'])), ['0.5', '0.75', '0.9'])
    st = cell_stats(toy['mask_ratio'], 'probe_test_top1')
    fc.test_close(st['0.75'], (83.5, 82., 85., 2)); fc.test_eq(st['0.9'][3], 1)
    # ranges 1 and 3
    fc.test_close(seed_spread(toy, 'probe_test_top1')[0], 2.0); fc.test_eq(seed_spread(toy, 'probe_test_top1')[1], 2)
    fc.test_eq(seed_spread(toy, 'ft_test_top1'), (None, 0))
    fc.test_eq(cell_stats(toy['mask_ratio'], 'ft_test_top1'), {})

def test_verdicts(toy):
    fc.test_eq([verdict(d, p, 1.0) for d, p in [(0.9, 7.4), (-0.9, 7.4), (1.5, 7.4), (-1.5, 7.4),
                                                 (1.5, '+'), (1.5, 0), (-1.5, 0), (0.5, 0)]],
               ['within noise', 'within noise', 'agreement', 'disagreement',
                'agreement', 'disagreement', 'disagreement', 'within noise'])
    toy['mask_ratio'].update({'0.1': _r('mask_ratio', '0.1', probe_test_top1=.70),
                              '0.1 seed 1': _r('mask_ratio', '0.1', probe_test_top1=.72)})
    rd = {(r['grid'], r['comparison'], r['metric']): r for r in readings(toy)}
    r = rd['mask_ratio', '0.75 - 0.1', 'probe_test_top1']
    # its own cells: ranges 3, 2
    fc.test_close((r['ours'], r['noise'], r['seeds']), (12.5, 5.0, 2)); fc.test_eq(r['verdict'], 'agreement')
    r9 = rd['mask_ratio', '0.75 - 0.9', 'probe_test_top1']  # 0.9 has one seed: the pooled spread (ranges 1, 3, 2)
    fc.test_eq((r9['seeds'], r9['noise']), (1, 4.0))
    fc.test_eq(rd['mask_ratio', '0.75 - 0.25', 'probe_test_top1']['verdict'], 'not run')
    fc.test_eq(rd['target', 'norm_pixel - pixel', 'probe']['verdict'], 'not run')

def test_a_panel_must_name_a_metric(toy):
    fc.test_fail(lambda: plot_ablations(toy, [('mask_ratio', 'lp')]),
                 contains="unknown panels [('mask_ratio', 'lp')]: a panel is a grid name "
                          "or (grid, one of ['ft', 'ft_few', 'probe'])")

def _seeds(grid, cell, **m): # three seeds of a cell: m maps a metric to its three values
    return {cell if s == 0 else f'{cell} seed {s}': dict(grid=grid, cell=cell, metrics={k: v[s] for k, v in m.items()})
            for s in range(3)}

def test_each_target_can_fail():
    fake = {'scratch': {**_seeds('scratch', 'mae', ft_test_top1=(.85, .855, .86), ft_valid_top1=(.85, .85, .85),
                                 probe_valid_top1=(.81, .81, .81)),
                        **_seeds('scratch', 'scratch', ft_test_top1=(.83, .83, .83), ft_valid_top1=(.70, .70, .70),
                                 probe_valid_top1=(.80, .80, .80))},
            'mask_ratio': {k: v for r, p in zip((0.25, 0.5, 0.75, 0.9), (.80, .81, .83, .82))
                           for k, v in _seeds('mask_ratio', f'{r:g}', probe_test_top1=(p, p + .005, p + .01),
                                              ft_test_top1=(.85, .85, .85)).items()}}
    # seed spreads: probe 1.0, fine-tuning 1/6 (of six cells only mae varies, by 1.0); held out 0
    fc.test_eq([t['met'] for t in check_targets(fake)], [True, True, True, True])
    scratch = [fake['scratch']['scratch' if s == 0 else f'scratch seed {s}']['metrics'] for s in range(3)]
    for m in scratch: m['ft_test_top1'] = .854  # 0.1 points behind MAE: under two spreads
    for m in scratch: m['probe_valid_top1'] = .81  # no gap to the untrained encoder
    fake['mask_ratio']['0.9']['metrics']['probe_test_top1'] = .9  # the probe's peak moves to 0.9
    fc.test_eq([t['met'] for t in check_targets(fake)], [False, True, False, False])
    assert check_targets(fake)[2]['measured'].startswith('ft: peak 0.25'), check_targets(fake)[2]['measured']
    fc.test_eq([t['met'] for t in check_targets({})], [None] * 4)
    with contextlib.redirect_stdout(io.StringIO()) as out: show_targets(fake)
    assert out.getvalue().count('NOT MET') == 3, out.getvalue()
