"""Pretraining throughput of a preset on a data source: model-only vs end-to-end (fastai Learner + data pipeline).

    python bench/epoch_throughput.py                                  # tiny preset, full Fashion-MNIST, CPU
    python bench/epoch_throughput.py --source sample --batches 20     # the shipped sample
    python bench/epoch_throughput.py --preset mae_vit_small_patch4 --epoch   # one real epoch, timed end to end

model-only: the same training step (forward, backward, fused AdamW) on one batch already on the device, no loader.
end-to-end: `Learner.fit` of `mae_nb.pretrain` (callbacks, progress bar, logging) reading uint8 images from the
data pipeline (per-image random resized crop + flip and normalisation on the device).
Both skip the first `--warmup` steps and time the next `--batches`; the ratio is what the data pipeline and the
training loop cost. An epoch's time is extrapolated from the measured rate.
--epoch: instead, run `mae_nb.pretrain` for one whole epoch (training and validation, checkpoint and logs
included) and report its wall time.
"""
import argparse, json, os, platform, tempfile, time
import torch
from fastai.callback.core import Callback, CancelFitException
from mae_nb.loaders import mae_dataloaders
from mae_nb.model import create_mae
from mae_nb.pretrain import PretrainConfig, mae_learner, mae_param_groups, pretrain
from mae_nb.train import mae_adamw

class Timer(Callback):
    "Time `batches` training steps after `warmup`, then stop the fit."
    order = 100
    def __init__(self, warmup, batches): self.warmup, self.batches = warmup, batches
    def before_batch(self):
        if self.training and self.iter == self.warmup: self.t0 = time.perf_counter()
    def after_batch(self):
        if self.training and self.iter == self.warmup + self.batches - 1:
            self.elapsed = time.perf_counter() - self.t0; raise CancelFitException()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--source', default='fashion_mnist'); ap.add_argument('--preset', default='mae_vit_tiny_patch4')
    ap.add_argument('--bs', type=int, default=256); ap.add_argument('--batches', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=3); ap.add_argument('--precision', default='fp32')
    ap.add_argument('--epoch', action='store_true', help='time one whole epoch of `pretrain` instead')
    ap.add_argument('--compile', action='store_true', help='torch.compile the model')
    ap.add_argument('--json', help='write the results here')
    a = ap.parse_args()
    if a.epoch: return whole_epoch(a)
    dls = mae_dataloaders(a.source, bs=a.bs, seed=0)
    n_train = len(dls.train.dataset)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {dls.device}; "
          f"{a.preset}, {a.source} ({n_train} training images), bs {a.bs}, {a.precision}")
    cfg = PretrainConfig(source=a.source, preset=a.preset, bs=a.bs, epochs=1, precision=a.precision,
                         out=tempfile.mkdtemp())

    torch.manual_seed(0)
    model = create_mae(a.preset, img_size=dls.img_size, in_chans=dls.in_chans, norm_pix_loss=True).to(dls.device)
    opt = mae_adamw(mae_param_groups(model, cfg.weight_decay), lr=1e-4)
    x = dls.train.one_batch()[0]
    ctx = ((lambda: torch.autocast(dls.device.type, dtype=torch.bfloat16)) if a.precision == 'bf16'
           else torch.enable_grad)
    def step():  # the step of `mae_learner`: noise drawn outside, removed patches only
        noise = model.mask_noise(len(x), cfg.mask_ratio, device=x.device)
        with ctx(): loss = model(x, cfg.mask_ratio, noise, pred_visible=False)[0]
        loss.backward(); opt.step(); opt.zero_grad()
    for _ in range(a.warmup): step()
    if dls.device.type == 'cuda': torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.batches): step()
    if dls.device.type == 'cuda': torch.cuda.synchronize()
    model_only = a.batches * a.bs / (time.perf_counter() - t0)

    torch.manual_seed(0)
    model = create_mae(a.preset, img_size=dls.img_size, in_chans=dls.in_chans, norm_pix_loss=True)
    timer = Timer(a.warmup, a.batches)
    learn = mae_learner(dls, model, cfg, cbs=[timer])
    learn.fit(1)
    end_to_end = a.batches * a.bs / timer.elapsed
    print(f"  model-only : {model_only:8.1f} images/s  (an epoch of {n_train} images: {n_train / model_only:7.1f} s)")
    print(f"  end-to-end : {end_to_end:8.1f} images/s  (an epoch of {n_train} images: {n_train / end_to_end:7.1f} s)")
    print(f"  end-to-end / model-only: {end_to_end / model_only:.1%}")

def whole_epoch(a):
    "One epoch of `pretrain` (training + validation + checkpoint + logs), timed from the call to its return."
    n = {'fashion_mnist': 60000, 'sample': 2000}.get(a.source, '?')
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {a.preset}, {a.source}, bs {a.bs}, {a.precision}"
          f"{', compiled' if a.compile else ''}, one epoch")
    cfg = PretrainConfig(source=a.source, preset=a.preset, bs=a.bs, epochs=1, precision=a.precision, compile=a.compile,
                         out=tempfile.mkdtemp())
    t0 = time.perf_counter()
    pretrain(cfg, figures=False)
    dt = time.perf_counter() - t0
    print(f"  one epoch ({n} training images, validation included): {dt:.0f} s = {dt / 60:.1f} min")
    if a.json: open(a.json, 'w').write(json.dumps(dict(vars(a), wall_s=dt, date=time.strftime('%Y-%m-%d'),
                                                        torch=torch.__version__)))

if __name__ == '__main__': main()
