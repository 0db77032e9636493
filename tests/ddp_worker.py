"""One process of the 2-process CPU data-parallel test (started by tests/test_distributed.py through torchrun).

With the gloo backend, on the shipped sample: pretrains a small MAE, then linear-probes it (encoder run every step,
and cached features), fine-tunes its last block, and transfers it to 32 px images. Every job runs one epoch, stops,
and is resumed for a second. Writes what this rank saw to OUT/rank{r}.json: the training indices of each
pretraining epoch, which files this rank wrote, the lr and effective batch, and per job: a digest of the returned
model, whether it holds the weights of the final checkpoint, the recorded top-1 and the top-1 of the returned model
computed here on the whole validation set. Last, a non-finite loss in one process only must stop both.
"""
import contextlib, faulthandler, hashlib, json, os, sys
from pathlib import Path
import torch
import mae_nb.pretrain as P, mae_nb.train as T
from mae_nb.distributed import GlooDistributedDL, unwrap_model
from mae_nb.precision import precision_autocast
from fastai.callback.core import Callback
from mae_nb.loaders import mae_dataloaders
from mae_nb.linprobe import LinProbeConfig, linprobe
from mae_nb.finetune import FinetuneConfig, finetune
from mae_nb.transfer import TransferConfig, transfer

# a rank that hangs (waiting in a collective its peer never joins, say) prints where it waits and exits: the test
# then fails with both stacks instead of being killed silently at its timeout
faulthandler.dump_traceback_later(int(os.environ.get('DDP_WORKER_TIMEOUT', 420)), exit=True)
out = Path(sys.argv[1]); rank = int(os.environ['RANK'])
seen, writes = [], []
_get_idxs = GlooDistributedDL.get_idxs
def get_idxs(self):
    idxs = _get_idxs(self)
    if self.dl.shuffle: seen.append(list(map(int, idxs)))  # the training loader (validation is not shuffled)
    return idxs
GlooDistributedDL.get_idxs = get_idxs
_save = T.save_atomic
def save_atomic(obj, path): writes.append(str(path)); return _save(obj, path)
T.save_atomic = save_atomic
_savefig = P.plt.Figure.savefig
def savefig(self, fname, *a, **k): writes.append(str(fname)); return _savefig(self, fname, *a, **k)
P.plt.Figure.savefig = savefig

def digest(model):
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    return hashlib.sha256(flat.numpy().tobytes()).hexdigest()

def holds_final(model, folder): # the returned model's weights are those of the run's final checkpoint
    torch.distributed.barrier()  # rank 0 has written it
    ck = torch.load(folder/'checkpoint-2.pth', weights_only=True)['model']
    sd = unwrap_model(model).state_dict()
    return sorted(sd) == sorted(ck) and all(torch.equal(v, ck[k]) for k, v in sd.items())

@torch.no_grad()
def top1_here(model, img_size, precision): # the top-1 of `model` on all 500 validation images, in this process, by hand
    xb, yb = mae_dataloaders('sample', img_size=img_size, bs=500, augment=False, device='cpu').valid.one_batch()
    # as the run measured it (bf16 where auto chose it)
    with precision_autocast(precision, 'cpu') or contextlib.nullcontext():
        return (model.eval()(xb).argmax(1) == yb).float().mean().item()

cfg = dict(source='sample', bs=32, base_lr=1.5e-3, out=str(out/'run'), seed=0,
           model_kwargs=dict(depth=2, decoder_depth=1))
P.pretrain(P.PretrainConfig(**cfg, epochs=1), figures=False)
learn = P.pretrain(P.PretrainConfig(**cfg, epochs=2), resume=True)
report = dict(rank=rank, world_size=int(os.environ['WORLD_SIZE']), seen=list(seen), params_sha=digest(learn.model),
              pretrain_final=holds_final(learn.model, out/'run'), lr=learn.lr, effective_batch=learn.effective_batch,
              n_train=len(learn.dls.train.dataset), writes=list(writes),
              backend=torch.distributed.get_backend() if torch.distributed.is_initialized() else None, jobs={})

jobs = {
    'lp': (linprobe, LinProbeConfig, dict(base_lr=10.)),
    'lp_cached': (linprobe, LinProbeConfig, dict(base_lr=10., cached=True)),
    'ft': (finetune, FinetuneConfig, dict(blocks=1, rand_augment=False)),
    'transfer': (transfer, TransferConfig, dict(blocks=1, rand_augment=False, img_size=32)),
}
for name, (fn, cls, kw) in jobs.items():
    common = dict(checkpoint=str(out/'run'), bs=32, out=str(out/name), seed=0, save_every=1, **kw)
    fn(cls(**common, epochs=1))
    job = fn(cls(**common, epochs=2), resume=True)
    model = getattr(job, 'vit', job.model)  # a probe's Learner trains the head; `vit` is the whole classifier
    report['jobs'][name] = dict(sha=digest(model), final=holds_final(job.model, out/name), top1=job.result['top1'],
                                n_valid=job.result['n_valid'],
                                top1_here=top1_here(model, kw.get('img_size', 28), job.precision.name),
                                effective_batch=job.effective_batch)

class PoisonLastBatch(Callback): # the loss of rank 1's last training batch is NaN (its gradient is not: no NaN weights)
    order = -10
    def after_loss(self):
        if rank == 1 and self.training and self.iter == self.n_iter - 1: self.learn.loss = self.loss * float('nan')
try:
    P.pretrain(P.PretrainConfig(**{**cfg, 'out': str(out/'nan')}, epochs=1), figures=False, cbs=[PoisonLastBatch()])
    report['nan'] = None
except P.NonFiniteLossError as e: report['nan'] = str(e)
json.dump(report, open(out/f'rank{rank}.json', 'w'))
torch.distributed.barrier(); torch.distributed.destroy_process_group()  # both ranks done: a clean exit
faulthandler.cancel_dump_traceback_later()
