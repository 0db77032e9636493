"""tools/reference.py: each reference MAE's run, settings and shipped description."""
import importlib.util, json, sys
from pathlib import Path
import pytest
from mae_nb.pretrain import PretrainConfig

ROOT = Path(__file__).resolve().parents[1]

def _load(name='reference'): # a script of tools/ as a module
    sys.path.insert(0, str(ROOT/'tools'))  # reference.py imports short_schedule from beside it, evaluate.py reference
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT/'tools'/f'{name}.py')
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    finally: sys.path.remove(str(ROOT/'tools'))
    return mod

def test_the_64_wide_run_resumes_with_its_recorded_settings():
    "The committed checkpoint of the 64-wide run resumes with the settings it was started with."
    ref = _load()
    cfg = vars(PretrainConfig(**ref.Reference('fashion_mnist').settings))
    recorded = json.loads((ROOT/'results'/'reference'/'result.json').read_text())['config']
    skip = {'out', 'num_workers'}  # the folder, and the loader workers the run resolved from None
    assert {k: cfg[k] for k in recorded if k not in skip} == \
           {k: (tuple(v) if isinstance(v, list) else v) for k, v in recorded.items() if k not in skip}

@pytest.mark.parametrize('width,heads', [(128, 8), (192, 12)])
def test_the_larger_runs(width, heads):
    "The 128- and 192-wide references: the grid's sizes, the 64-wide recipe, their own folders and weight files."
    ref, name = _load(), f'fashion_mnist_{width}'
    r = ref.Reference(name)
    cfg = PretrainConfig(**r.settings)
    assert (cfg.model_kwargs, cfg.precision, cfg.epochs) == ({'embed_dim': width, 'num_heads': heads}, 'auto', 100)
    assert (r.kept, r.asset.name) == (ROOT/'results'/f'reference_{width}'/'checkpoint.pth', f'mae_{name}.pth')
    assert r.command.endswith(f'--model {name}')
    with pytest.raises(SystemExit, match="unknown model 'nope'; expected one of"): ref.Reference('nope')

def test_describe_writes_only_its_own_block(tmp_path, monkeypatch):
    ref = _load()
    r = ref.Reference('fashion_mnist_128')
    monkeypatch.setattr(r, 'asset', tmp_path/'mae_fashion_mnist_128.pth'); r.asset.write_bytes(b'0' * 1000)
    readme = tmp_path/'README.md'
    readme.write_text('intro\n\n<!-- weights: fashion_mnist -->\nthe 64-wide\n<!-- /weights: fashion_mnist -->\n')
    prov = dict(epochs=100, of_epochs=100, data='55,000 images', command=r.command, commit='abc', machine='CPU',
                date='2026-12-07', fp16_check=dict(feature_max_abs_diff=0.01, feature_rms=0.5, recon_ratio_fp32=0.2,
                                                   recon_ratio_fp16=0.2))
    cfg = vars(PretrainConfig(**r.settings))
    for _ in range(2): ref.describe(r, prov, cfg)  # written once, then replaced in place
    text = readme.read_text()
    assert text.startswith('intro\n\n<!-- weights: fashion_mnist -->\nthe 64-wide\n<!-- /weights: fashion_mnist -->')
    assert text.count('<!-- weights: fashion_mnist_128 -->') == 1
    assert text.endswith('<!-- /weights: fashion_mnist_128 -->\n')
    assert "`mae_nb.pretrained('fashion_mnist_128')`" in text and 'a 128-wide, 6-block encoder' in text

def test_the_long_fine_tuning_is_the_papers_recipe():
    "tools/evaluate.py's `ft_mae_long`: the paper's augmentations, 100 epochs, from the 128-wide MAE at its chosen lr."
    ev = _load('evaluate')
    ev.select('fashion_mnist_128')
    cfg = ev.finetune_long_cfg()
    assert (cfg.mixup, cfg.cutmix, cfg.rand_augment, cfg.reprob, cfg.epochs) == (0.8, 1.0, True, 0.25, 100)
    assert cfg.checkpoint == 'fashion_mnist_128' and cfg.model_kwargs == {'embed_dim': 128, 'num_heads': 8}
    assert cfg.base_lr == ev.choices()['ft_mae']['chosen']  # the lr its short sweep chose on the held-out images

def test_run_wall_s_counts_every_epoch_and_probe(tmp_path):
    "A reference's recorded time: its epoch log's `time` column (m:ss or h:mm:ss) and its probes' seconds."
    (tmp_path/'epochs.csv').write_text('epoch,train_loss,time\n0,0.5,02:28\n1,0.4,1:01:14\n')
    (tmp_path/'probes.json').write_text(json.dumps([{'epoch': 1, 'probe_s': 10.5}, {'epoch': 2, 'probe_s': 2.0}]))
    assert _load().run_wall_s(tmp_path) == 148 + 3674 + 12.5

@pytest.mark.parametrize('model', ['fashion_mnist', 'fashion_mnist_128', 'fashion_mnist_192'])
def test_evaluate_finds_its_committed_stages(model):
    "Each final stage `tools/evaluate.py` asks for hashes to the key of the record committed for it: read, not rerun."
    from mae_nb.experiments import stage_key
    ev = _load('evaluate'); ev.select(model)
    ch, up = ev.choices(), ev.ref_key()
    asks = {f'lp_{p}': (ev.probe(p, base_lr=ch[f'probe_{p}']['chosen'], epochs=ev.PROBE_EPOCHS), p != 'pixels')
            for p in ev.POOLS if f'probe_{p}' in ch}
    asks |= {f'ft_{who}': (ev.finetune_cfg(who == 'mae', base_lr=ch[f'ft_{who}']['chosen'], epochs=ev.FT_EPOCHS),
                           who == 'mae') for who in ('mae', 'scratch') if f'ft_{who}' in ch}
    done = {n: json.loads(f.read_text())['key'] for n in asks if (f := ev.OUT/n/'result.json').exists()}
    assert len(done) >= 3, done  # every reference has its probes and fine-tuning recorded
    assert {n: stage_key(asks[n][0], up if asks[n][1] else '') for n in done} == done

def test_a_sweep_goes_past_the_end_it_chooses(tmp_path, monkeypatch):
    "`choose` tries a value past an end of its range while the best is there, and stops once the best is inside."
    ev = _load('evaluate')
    monkeypatch.setattr(ev, 'OUT', tmp_path)
    tried = []
    def stage(cfg, test=True): # held-out top-1 peaks at lr 0.03, past the range's top
        tried.append(cfg); return {'top1': 1 - abs(cfg - 0.03)}
    monkeypatch.setattr(ev, 'stage', stage)
    assert ev.beyond([1e-3, 3e-3, 1e-2]) == (3e-4, 3e-2) and ev.beyond([0.5, 2., 8., 32.]) == (0.1, 100.)
    assert ev.choose('ft_x', lambda v: v, (1e-3, 3e-3, 1e-2)) == 3e-2
    assert tried == [1e-3, 3e-3, 1e-2, 3e-2, 9e-2]  # each value run once; 0.09 shows 0.03 is inside the range
    assert list(json.loads((tmp_path/'choices.json').read_text())['ft_x']['valid_top1']) == \
           ['0.001', '0.003', '0.01', '0.03', '0.09']
    tried.clear()  # at most `steps` values past the end: a best still there is kept, and the record says so
    assert ev.choose('ft_y', lambda v: v / 100, (1e-3, 3e-3, 1e-2), steps=1) == 3e-2 and len(tried) == 4
    assert list(json.loads((tmp_path/'choices.json').read_text())['ft_y']['valid_top1'])[-1] == '0.03'
