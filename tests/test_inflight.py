"""tools/inflight.py: unfinished grid stages carried to a fresh machine, and only those."""
import importlib.util, tarfile
from pathlib import Path

def _load():
    spec = importlib.util.spec_from_file_location('inflight', Path(__file__).resolve().parents[1]/'tools'/'inflight.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def _stage(runs:Path, name:str, epochs:int, finished=False):
    d = runs/name; d.mkdir(parents=True)
    for e in range(1, epochs + 1): (d/f'checkpoint-{e}.pth').write_bytes(bytes([e]) * 10)
    (d/'config.yaml').write_text(f'name: {name}\n')
    (d/'epochs.csv').write_text('epoch\n' + '\n'.join(map(str, range(epochs))))
    if finished: (d/'result.json').write_text('{}')
    return d

def test_save_then_restore_on_a_fresh_machine(tmp_path):
    inflight = _load()
    runs, archive = tmp_path/'runs', tmp_path/'repo'/'inflight.tar'
    _stage(runs, 'pretrain-aaa', 3); _stage(runs, 'finetune-bbb', 2, finished=True); _stage(runs, 'pretrain-ccc', 10)
    _stage(runs, 'pretrain-ddd', 2, finished=True); _stage(runs, 'pretrain-eee', 2, finished=True)
    assert inflight.save(runs, archive, keep={'pretrain-ddd'}) == ['pretrain-aaa (epoch 3)', 'pretrain-ccc (epoch 10)']
    with tarfile.open(archive) as tar: names = sorted(m.name for m in tar.getmembers())
    # bbb: a record, no weights; ccc: its newest checkpoint only; ddd: finished, but a cell to do needs its weights
    assert names == ['finetune-bbb/config.yaml', 'finetune-bbb/epochs.csv', 'finetune-bbb/result.json',
                     'pretrain-aaa/checkpoint-3.pth', 'pretrain-aaa/config.yaml', 'pretrain-aaa/epochs.csv',
                     'pretrain-ccc/checkpoint-10.pth', 'pretrain-ccc/config.yaml', 'pretrain-ccc/epochs.csv',
                     'pretrain-ddd/checkpoint-2.pth', 'pretrain-ddd/config.yaml', 'pretrain-ddd/epochs.csv',
                     'pretrain-ddd/result.json', 'pretrain-eee/config.yaml', 'pretrain-eee/epochs.csv',
                     'pretrain-eee/result.json']
    fresh = tmp_path/'fresh'
    _stage(fresh, 'pretrain-ccc', 11)  # already further along here: kept as it is
    assert inflight.restore(fresh, archive) == ['finetune-bbb (epoch -1)', 'pretrain-aaa (epoch 3)',
                                                'pretrain-ddd (epoch 2)', 'pretrain-eee (epoch -1)']
    assert (fresh/'finetune-bbb'/'result.json').exists()
    assert (fresh/'pretrain-aaa'/'checkpoint-3.pth').read_bytes() == bytes([3]) * 10
    assert sorted(p.name for p in (fresh/'pretrain-ccc').glob('checkpoint-*')) == \
        [f'checkpoint-{e}.pth' for e in (1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9)]
    assert inflight.restore(fresh, archive) == []  # nothing left to bring
    assert inflight.save(tmp_path/'empty', archive, keep=set()) == []
    assert tarfile.open(archive).getmembers() == []  # replaced whole

def test_a_pretraining_is_in_use_until_its_cells_are_done(tmp_path):
    "The weights of a finished pretraining travel while a cell still to be done starts from them, and only then."
    import json
    from mae_nb.grids import BUDGETS, cell_stages
    from mae_nb.cells import grid_cells, cell_path
    inflight, b, root, runs = _load(), BUDGETS['cpu10'], tmp_path/'results', tmp_path/'runs'
    cells = grid_cells('scaling', b.seeds, None, b)
    mae = [(g, label, s) for g, label, s in cells if label.startswith('128 wide mae')]  # one pretraining per seed
    pre = {Path(cell_stages(b, {**s, 'ft_lr': 1e-3, 'few_ft_lr': 1e-3}, runs)['pretrain'][1].out).name
           for _, _, s in mae}
    assert len(pre) == len(mae) == len(b.size_seeds) and pre <= inflight.in_use('cpu10', root, runs)
    for g, label, s in mae:  # these cells done: nothing else starts from their pretrainings
        p = cell_path(root, 'cpu10', g, label); p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({'settings': {**s, 'ft_lr': 1e-3, 'few_ft_lr': 1e-3}}))
    left = inflight.in_use('cpu10', root, runs)
    assert not pre & left and left and all(n.startswith('pretrain-') for n in left)
