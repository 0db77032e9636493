"""One process of the 2-process CPU data-parallel test (started by tests/test_distributed.py through torchrun).

Pretrains a small MAE on the shipped sample with the gloo backend, fine-tunes its last block for two epochs, and
linear-probes it for one epoch and then, resumed, for a second; writes what this rank saw to OUT/rank{r}.json: the
training indices of each pretraining epoch, a digest of the parameters after each job, the lr and effective batch,
which files this rank wrote, and whether the resumed probe returned the weights of its final checkpoint.
"""
import hashlib, json, os, sys
from pathlib import Path
import torch
import mae_nb.pretrain as P

out = Path(sys.argv[1]); rank = int(os.environ['RANK'])
seen, writes = [], []
_get_idxs = P.GlooDistributedDL.get_idxs
def get_idxs(self):
    idxs = _get_idxs(self)
    if self.dl.shuffle: seen.append(list(map(int, idxs)))  # the training loader (validation is not shuffled)
    return idxs
P.GlooDistributedDL.get_idxs = get_idxs
_save = P.save_atomic
def save_atomic(obj, path): writes.append(str(path)); return _save(obj, path)
P.save_atomic = save_atomic
_savefig = P.plt.Figure.savefig
def savefig(self, fname, *a, **k): writes.append(str(fname)); return _savefig(self, fname, *a, **k)
P.plt.Figure.savefig = savefig

cfg = P.PretrainConfig(source='sample', epochs=2, bs=32, base_lr=1.5e-3, out=str(out/'run'), seed=0,
                       model_kwargs=dict(depth=2, decoder_depth=1))
learn = P.pretrain(cfg)
def digest(model): return hashlib.sha256(torch.cat([p.detach().flatten() for p in model.parameters()]).numpy().tobytes()).hexdigest()
params_sha, seen_pretrain = digest(learn.model), list(seen)  # the pretraining epochs only

from mae_nb.finetune import FinetuneConfig, finetune
ft = finetune(FinetuneConfig(checkpoint=str(out/'run'), blocks=1, epochs=2, bs=32, rand_augment=False, out=str(out/'ft'), seed=0,
                             save_every=1))
from mae_nb.patchify import load_sample
xv, yv = load_sample('valid')
with torch.no_grad(): preds = ft.model.eval()((xv.float() / 255 - 0.2860) / 0.3530).argmax(1)
from mae_nb.linprobe import LinProbeConfig, linprobe
lp_cfg = dict(checkpoint=str(out/'run'), bs=32, base_lr=10., out=str(out/'lp'), seed=0, save_every=1)
linprobe(LinProbeConfig(**lp_cfg, epochs=1))
lp = linprobe(LinProbeConfig(**lp_cfg, epochs=2), resume=True)
torch.distributed.barrier()  # rank 0 has written the final checkpoint
final = torch.load(out/'lp'/'checkpoint-2.pth', weights_only=True)['model'] if (out/'lp'/'checkpoint-2.pth').exists() else {}
lp_is_final = bool(final) and all(torch.equal(v, final[k]) for k, v in lp.vit.state_dict().items())
with torch.no_grad(): lp_preds = lp.vit.eval()((xv.float() / 255 - 0.2860) / 0.3530).argmax(1)
json.dump({'lp_is_final': lp_is_final, 'lp_head_sha': digest(lp.vit.head), 'lp_top1': lp.result['top1'], 'lp_top1_all': (lp_preds == yv).float().mean().item(),
           'ft_params_sha': digest(ft.model), 'ft_effective_batch': ft.effective_batch, 'ft_top1': ft.result['top1'],
           'ft_top1_all': (preds == yv).float().mean().item(), 'ft_n_valid': ft.result['n_valid'],
           'rank': rank, 'world_size': int(os.environ['WORLD_SIZE']), 'seen': seen_pretrain,
           'params_sha': params_sha,
           'lr': learn.lr, 'effective_batch': learn.effective_batch,
           'n_train': len(learn.dls.train.dataset), 'writes': writes,
           'backend': torch.distributed.get_backend() if torch.distributed.is_initialized() else None},
          open(out/f'rank{rank}.json', 'w'))
