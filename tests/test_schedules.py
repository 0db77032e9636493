"Each stage's `warmup_epochs` reaches the lr schedule its learner trains with."
import pytest, torch
from fastai.callback.schedule import ParamScheduler
from mae_nb.loaders import mae_dataloaders
from mae_nb.model import create_mae
from mae_nb.weights import create_vit
from mae_nb.pretrain import PretrainConfig, mae_learner
from mae_nb.linprobe import LinProbeConfig, linprobe_learner
from mae_nb.finetune import FinetuneConfig, finetune_learner
from mae_nb.transfer import TransferConfig

def lr_at(learn, pct:float) -> float:
    "The (top group's) lr the learner's schedule gives at `pct` of training."
    sched, = [cb for cb in learn.cbs if isinstance(cb, ParamScheduler)]
    lr = sched.scheds['lr'](pct)
    return max(lr) if isinstance(lr, list) else lr

def learners(cfg_kw:dict):
    "A learner of each of the four stages on the shipped sample, its settings built from `cfg_kw`."
    dls = mae_dataloaders('sample', bs=16, seed=0)
    mae = create_mae('mae_vit_mini_patch4')
    vit = lambda: create_vit(embed_dim=64, depth=6, num_heads=4, patch_size=4, img_size=(28, 28), in_chans=1,
                             num_classes=dls.c)
    yield 'pretrain', mae_learner(dls, mae, PretrainConfig(compile=False, **cfg_kw))
    yield 'linprobe', linprobe_learner(dls, vit(), LinProbeConfig(**cfg_kw))
    yield 'finetune', finetune_learner(dls, vit(), FinetuneConfig(**cfg_kw))
    yield 'transfer', finetune_learner(dls, vit(), TransferConfig(**cfg_kw))  # `transfer` fine-tunes with its settings

@pytest.mark.parametrize('warmup', [0.5, 2., 7.])
def test_warmup_epochs_reach_the_schedule(warmup):
    epochs = 10
    for stage, learn in learners(dict(epochs=epochs, warmup_epochs=warmup, precision='fp32', bs=16, base_lr=1e-3)):
        peak, pct = lr_at(learn, warmup / epochs), warmup / epochs
        assert lr_at(learn, pct / 2) == pytest.approx(peak / 2), f"{stage}: lr halfway through warmup is not half peak"
        assert lr_at(learn, pct * 0.99) < peak, f"{stage}: the lr peaks before warmup_epochs={warmup}"
        assert lr_at(learn, min(1, pct * 1.01)) < peak + 1e-12, stage
        assert lr_at(learn, 0) == 0, stage
