"""Fine-tuning runs on the shipped sample, checked as a run: what is frozen stays bit-identical, each parameter group
follows its own lr, the run writes its files and resumes, bad settings are refused, and the defaults fit the data.
Notebook 10 explains the recipe; these are its engineering checks."""
import contextlib, io, json, warnings
from pathlib import Path
import numpy as np, pytest, torch
from fastcore import test as fc  # as a module: pytest would collect its test_* functions
from mae_nb.model import create_mae
from mae_nb.weights import vit_from_checkpoint
from mae_nb.finetune import finetune, FinetuneConfig
from mae_nb.logs import logged_seconds

@pytest.fixture(scope='module')
def enc(tmp_path_factory) -> Path:
    "A 4-block tiny MAE's weights, saved as a checkpoint file."
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('enc')/'enc.pth'
    torch.save({'model': create_mae('mae_vit_tiny_patch4', depth=4).state_dict()}, path)
    return path

def test_partial_finetuning_run(enc, tmp_path):
    "One epoch tuning the last block: the rest bit-identical, every group at its scaled lr, the run's files, a resume."
    before = {k: v.clone() for k, v in vit_from_checkpoint(torch.load(enc), global_pool='avg').state_dict().items()}
    learn = finetune(checkpoint=str(enc), blocks=1, epochs=1, bs=64, base_lr=1e-3, out=str(tmp_path/'ft1'))
    after = learn.model.state_dict()
    for k, v in before.items():
        if k.startswith('blocks.3.') or k.startswith(('fc_norm', 'head')): continue
        fc.test_eq(after[k], v)  # frozen: bit-identical
    fc.test_ne(after['blocks.3.mlp.fc1.weight'], before['blocks.3.mlp.fc1.weight'])
    # 49 patches on a CPU: the attention written out, the faster there (notebook 06b)
    fc.test_eq({b.attn.fused_attn for b in learn.model.blocks}, {False})
    lrs = [h['lr'] for h in learn.opt.hypers]
    scales = [g['lr_scale'] for g in learn.opt.opt.param_groups]
    fc.test_close(np.array(lrs) / max(lrs), np.array(scales) / max(scales), eps=1e-9)  # every group at its scaled lr
    fc.test_eq(sorted(p.name for p in (tmp_path/'ft1').iterdir()),
               ['checkpoint-1.pth', 'config.yaml', 'epochs.csv', 'result.json'])
    res = json.loads((tmp_path/'ft1'/'result.json').read_text())
    fc.test_eq((res['epochs'], res['config']['blocks'], res['n_valid']), (1, 1, 500))
    # resumed when it is over already: nothing to train, the result written again
    with warnings.catch_warnings(record=True):
        again = finetune(checkpoint=str(enc), blocks=1, epochs=1, bs=64, base_lr=1e-3, out=str(tmp_path/'ft1'),
                         resume=True)
    fc.test_close(again.result['top1'], res['top1'], eps=1e-6)
    logged = logged_seconds(tmp_path/'ft1'/'epochs.csv', 1)  # its wall time counts the first session's epoch too
    assert 0 < logged <= again.result['wall_s'], (logged, again.result['wall_s'])

def test_scratch_and_bad_settings(enc, tmp_path):
    "Training from scratch builds the same architecture with timm's initialisation; bad settings are refused."
    scratch = finetune(checkpoint=None, model_kwargs={'depth': 2}, epochs=1, bs=64, rand_augment=False,
                       out=str(tmp_path/'scratch'))
    fc.test_eq(len(scratch.model.blocks), 2); fc.test_eq(scratch.model.num_classes, 10)
    fc.test_fail(lambda: FinetuneConfig(bs=33), contains='bs must be even, got 33')
    fc.test_fail(lambda: FinetuneConfig(blocks='x'),
              contains="blocks must be an integer from 0 to the depth, 'mlp' or 'all' (None), got 'x'")
    fc.test_fail(lambda: finetune(checkpoint=str(enc), blocks=7, out=str(tmp_path/'bad')),
              contains="from 0 to the depth 4, 'mlp' or 'all' (None), got 7")
    fc.test_fail(lambda: FinetuneConfig(layer_decay=0), contains='layer_decay must be in (0, 1], got 0')
    five = vit_from_checkpoint(torch.load(enc), num_classes=5, global_pool='avg')
    fc.test_fail(lambda: finetune(checkpoint=str(enc), model=five, epochs=1, out=str(tmp_path/'five')),
              contains="the model's head has 5 classes, the data 10 (sample)")

def test_defaults_fit_the_data(tmp_path):
    "Left to itself, a run fits its batch to the data and its regularisation to its length, and warns of few steps."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        few = finetune(checkpoint=None, model_kwargs={'depth': 1}, epochs=1, label_frac=0.1, out=str(tmp_path/'few'))
    fc.test_eq((few.result['config']['bs'], few.result['config']['mixup'], len(few.dls.train_ds)), (8, 0., 200))
    said = 'fine-tuning on 200 images (sample) for 1 epochs at batch 8: 25 optimizer steps'
    assert said in buf.getvalue(), buf.getvalue()
    assert any('25 optimizer steps is a short run' in str(w.message) for w in caught)
