"Checks of the repository as a whole, outside the notebooks."
import json, re, shlex, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_is_generated_from_index_notebook():
    "README.md must be what the documented command makes of nbs/index.ipynb."
    out = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'markdown', '--stdout', 'nbs/index.ipynb'],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert (ROOT/'README.md').read_text() == out, \
        "README.md is out of sync: run `jupyter nbconvert --to markdown --stdout nbs/index.ipynb > README.md`"

def test_readme_test_command_is_what_ci_runs():
    readme, ci = (ROOT/'README.md').read_text(), (ROOT/'.ci'/'run').read_text()
    assert 'pip install -e ".[dev]" && nbdev-test && pytest -q tests' in readme
    assert 'nbdev-test && pytest -q tests' in ci

def test_quick_start_command_parses():
    "The quick start's `mae-nb pretrain` command is valid for the CLI and builds a valid configuration."
    from mae_nb.cli import make_parser
    from mae_nb.pretrain import PretrainConfig
    cmd = re.search(r'pip install -e \. && (mae-nb pretrain .+)\n', (ROOT/'README.md').read_text()).group(1)
    args = vars(make_parser().parse_args(shlex.split(cmd)[1:]))
    args.pop('command'); args.pop('resume'); args.pop('figures'); args.pop('config')
    cfg = PretrainConfig(**args)
    assert cfg.source == 'sample'  # the offline default

def test_readme_evaluation_commands_parse():
    "Every `mae-nb` command line the README shows is valid for the CLI."
    from mae_nb.cli import make_parser
    lines = [l.split('#')[0] for l in (ROOT/'README.md').read_text().splitlines() if l.startswith('mae-nb ')]
    assert {l.split()[1] for l in lines} >= {'linprobe', 'finetune', 'transfer', 'export'}
    for l in lines: make_parser().parse_args(shlex.split(l)[1:])

def test_public_api():
    "`from mae_nb.all import *` gives every module's exports."
    ns = {}
    exec('from mae_nb.all import *', ns)
    for name in ['patchify', 'unpatchify', 'load_sample', 'random_masking', 'MaskedAutoencoderViT', 'create_mae', 'mae_presets',
                 'mae_dataloaders', 'PretrainConfig', 'pretrain', 'export_encoder', 'LinProbeConfig',
                 'linprobe', 'vit_from_checkpoint', 'mae_from_checkpoint', 'pretrained', 'read_results', 'FinetuneConfig',
                 'finetune', 'tune_last_blocks', 'TransferConfig', 'transfer', 'export_timm']:
        assert name in ns, name

def test_sample_is_package_data():
    "The shipped sample is declared as package data, so a wheel carries it."
    import tomllib
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())
    globs = cfg['tool']['setuptools']['package-data']['mae_nb']
    assert any(Path('assets/fashion_mnist_sample.npz').match(g) for g in globs)
    assert (ROOT/'mae_nb'/'assets'/'fashion_mnist_sample.npz').stat().st_size < 2_000_000
    assert cfg['project']['scripts']['mae-nb'] == 'mae_nb.cli:main'

MODEL_CHECK = """
import torch
from {module} import MaskedAutoencoderViT
torch.manual_seed(0)
m = MaskedAutoencoderViT(img_size=28, patch_size=4, in_chans=1, embed_dim=32, depth=1, num_heads=2,
                         decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
loss, pred, mask = m(torch.rand(2, 1, 28, 28))
assert loss.ndim == 0 and torch.isfinite(loss), loss
assert pred.shape == (2, 49, 16) and mask.shape == (2, 49) and int(mask.sum()) == 2 * 37, (pred.shape, mask.sum())
"""

def test_model_is_whole_wherever_imported_from():
    "Imported alone in a fresh interpreter, from any module that offers it, the model computes its loss."
    for module in ('mae_nb.model', 'mae_nb.pretrain', 'mae_nb.all'):
        r = subprocess.run([sys.executable, '-c', MODEL_CHECK.format(module=module)], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f"{module}: {r.stderr[-2000:]}"

def test_results_readme_is_current():
    "results/README.md (machines, dates, thread-hours, targets) must be what the results files say."
    r = subprocess.run([sys.executable, 'tools/results_readme.py', '--check'], cwd=ROOT)
    assert r.returncode == 0, "results/README.md is out of date: run `python tools/results_readme.py`"

def test_modules_stay_small():
    "Each module has one job, and no more than 350 lines to do it in (the generated `_modidx.py` aside)."
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT/'mae_nb').glob('*.py') if p.name != '_modidx.py'}
    big = {name: n for name, n in sizes.items() if n > 350}
    assert not big, f"modules over 350 lines: {big}; split them by job (see CONTRIBUTING.md)"

def test_notebooks_stay_small():
    "A notebook is a section of the paper a reader gets through: at most 80 KiB, figures included."
    big = {p.name: round(p.stat().st_size / 1024, 1) for p in (ROOT/'nbs').glob('*.ipynb') if p.stat().st_size > 80 * 1024}
    assert not big, (f"notebooks over 80 KiB: {big}; move engineering checks to tests/, split the evidence into a "
                     "notebook of its own, or shrink figures (tools/tidy_outputs.py)")

def _code_cells():
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(p.read_text())['cells']:
            if c['cell_type'] == 'code': yield p.name, ''.join(c['source']).splitlines()

def test_code_lines_stay_short():
    "No line of a notebook's code is over 120 characters: a reader sees every line whole, on a page or beside a diff."
    long = [(nb, len(l), l[:60]) for nb, src in _code_cells() for l in src if len(l) > 120]
    assert not long, f"{len(long)} code lines over 120 characters, e.g. {long[:5]}"

# a class is whole where it is defined (the model's methods are the paper's steps, in one place): its cell may be longer
WHOLE_CLASSES = ('class MaskedAutoencoderViT(',)

def test_code_cells_stay_small():
    "A code cell is one step a reader takes in at once: at most 30 lines, a class that must stay whole aside."
    big = [(nb, len(src), src[1][:50] if len(src) > 1 else '') for nb, src in _code_cells()
           if len(src) > 30 and not any(l.startswith(WHOLE_CLASSES) for l in src)]
    assert not big, f"code cells over 30 lines (split them where the code has a seam): {big}"
