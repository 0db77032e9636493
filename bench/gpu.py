"""MAE pretraining throughput on one accelerator: images/s, model-FLOPs utilisation (MFU) and peak memory.

    bash bench/gpu.sh              # the GPU table (one H100: about 6 minutes)
    bash bench/gpu.sh --smoke      # the same code at a tiny size on the CPU (about a minute): checks the script

Configurations (bf16 autocast, fused AdamW, predicting the removed patches only, noise drawn on the device):
  model-only  the training step repeated on one batch already on the device (no data pipeline), eager and
              `torch.compile`d, for mae_vit_base_patch16 and mae_vit_large_patch16 at 224 px;
  end-to-end  mae_nb's `Learner` with its callbacks on uint8 images in host memory: batches go to the device as uint8
              and are cropped, flipped and normalised there (`mae_dataloaders`), as in a real run.
FLOPs per image are counted (PyTorch's `FlopCounterMode`, forward + backward of the step as it runs, so the work
mae_nb skips is not credited); MFU = images/s × FLOPs per image / the device's dense bf16 peak.
"""
import argparse, json, platform, re, statistics, sys, time, warnings
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode

warnings.filterwarnings('ignore', message='.*(deprecated|No CUDA runtime).*')

PEAK_BF16_TFLOPS = {  # dense, vendors' data sheets
    'H100 PCIe': 756., 'H100 NVL': 835., 'H100': 989., 'H200 NVL': 835., 'H200': 989., 'GH200': 989.,
    'A100': 312., 'L40S': 362., 'L40': 181., 'A10G': 70., 'L4': 121., 'V100': 125.}

def peak_for_name(name:str):
    "The dense bf16 peak (TFLOP/s) of the card named `name` (as CUDA names it), or None if it is not in the table."
    for k in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):  # most specific first, whole words: 'L4' is not 'L40'
        if re.search(rf'(?<!\w){re.escape(k)}(?!\w)', name): return PEAK_BF16_TFLOPS[k]
    return None

def peak_tflops(device, override=None):
    if override: return override
    return peak_for_name(torch.cuda.get_device_name(device)) if device.type == 'cuda' else None

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)

def flops_per_image(model, img_size, in_chans):
    "Forward + backward FLOPs of one training step on one image, counted on the meta device (no memory, no compute)."
    import copy
    with torch.device('meta'):
        m = copy.deepcopy(model).to('meta')
        x = torch.empty(1, in_chans, img_size, img_size)
        with FlopCounterMode(display=False) as fc:
            loss, _, _ = m(x, 0.75, torch.rand(1, m.num_patches), pred_visible=False)
            loss.backward()
    return fc.get_total_flops()

def model_only(preset, img_size, in_chans, bs, steps, warmup, device, compile, mode='default'):
    "The training step on one device-resident batch: median step time."
    from mae_nb.model import create_mae
    from mae_nb.pretrain import mae_param_groups
    torch.manual_seed(0)
    model = create_mae(preset, img_size=img_size, in_chans=in_chans).to(device)
    flops = flops_per_image(model, img_size, in_chans)
    opt = torch.optim.AdamW(mae_param_groups(model, 0.05), lr=1.5e-4, betas=(0.9, 0.95), fused=True)
    if compile: model.compile(mode=mode)
    x = torch.randn(bs, in_chans, img_size, img_size, device=device)
    def step():
        noise = model.mask_noise(bs, 0.75, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss, _, _ = model(x, 0.75, noise, pred_visible=False)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    for _ in range(warmup): step()
    sync(device); first = time.perf_counter() - t0
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
    ts = []
    for _ in range(3):  # three timed windows of steps//3, synced at their ends only
        t0 = time.perf_counter()
        for _ in range(max(1, steps // 3)): step()
        sync(device); ts.append((time.perf_counter() - t0) / max(1, steps // 3))
    return dict(step_s=statistics.median(ts), flops=flops, warmup_s=first, peak_gb=_peak_gb(device))

def end_to_end(preset, img_size, in_chans, bs, steps, warmup, device, compile, n_images, mode='default'):
    "mae_nb's Learner (all its training callbacks) on uint8 images in host memory; device-side augmentation."
    from fastai.callback.core import Callback, CancelFitException, CancelValidException
    from mae_nb.loaders import mae_dataloaders
    from mae_nb.model import create_mae
    from mae_nb.pretrain import PretrainConfig, mae_learner
    g = torch.Generator().manual_seed(0)
    xs = torch.randint(0, 256, (n_images, in_chans, img_size, img_size), dtype=torch.uint8, generator=g)
    ys = torch.zeros(n_images, dtype=torch.long)
    dls = mae_dataloaders(((xs, ys), (xs[:bs], ys[:bs])), img_size=img_size, bs=bs, device=device, seed=0)
    class Clock(Callback):
        order = 100
        def before_validate(self): raise CancelValidException()
        def after_batch(self):
            self.n = getattr(self, 'n', 0) + 1
            if self.n == warmup: sync(device); self.t0 = time.perf_counter(); _reset_peak(device)
            if self.n == warmup + steps:
                sync(device); self.dt = time.perf_counter() - self.t0; raise CancelFitException()
    torch.manual_seed(0)
    model = create_mae(preset, img_size=img_size, in_chans=in_chans)
    cfg = PretrainConfig(preset=preset, epochs=1000, bs=bs, precision='bf16', compile=compile, compile_mode=mode,
                         out='/tmp/unused')
    clock = Clock()
    learn = mae_learner(dls, model, cfg, cbs=[clock])
    with learn.no_bar(): learn.fit(1000)
    return dict(step_s=clock.dt / steps, peak_gb=_peak_gb(device))

def _reset_peak(device):
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
def _peak_gb(device): return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else None

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='tiny preset, 28 px, on the CPU: checks the script quickly')
    ap.add_argument('--bs', type=int, default=256, help='batch per device for ViT-B (ViT-L gets half)')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=10)
    ap.add_argument('--peak-tflops', type=float, help="the device's dense bf16 peak, if not in the built-in table")
    ap.add_argument('--compile-mode', default='default',
                    help="torch.compile's mode for the compiled rows (e.g. reduce-overhead: CUDA graphs)")
    ap.add_argument('--only', nargs='*', help='run only the configurations whose name contains one of these words')
    ap.add_argument('--json', help='write the results here')
    args = ap.parse_args()
    device = torch.device('cpu' if args.smoke or not torch.cuda.is_available() else 'cuda')
    if args.smoke:
        runs = [('tiny', 'mae_vit_tiny_patch4', 28, 1, 64, False, 'model'),
                ('tiny', 'mae_vit_tiny_patch4', 28, 1, 64, True, 'model'),
                ('tiny', 'mae_vit_tiny_patch4', 28, 1, 64, False, 'e2e')]
        steps, warmup = 6, 2
    else:
        if device.type != 'cuda': sys.exit("no CUDA device: run with --smoke to check the script on the CPU")
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        b = args.bs
        runs = [('ViT-B/16', 'mae_vit_base_patch16', 224, 3, b, False, 'model'),
                ('ViT-B/16', 'mae_vit_base_patch16', 224, 3, b, True, 'model'),
                ('ViT-B/16', 'mae_vit_base_patch16', 224, 3, b, False, 'e2e'),
                ('ViT-B/16', 'mae_vit_base_patch16', 224, 3, b, True, 'e2e'),
                ('ViT-L/16', 'mae_vit_large_patch16', 224, 3, b // 2, False, 'model'),
                ('ViT-L/16', 'mae_vit_large_patch16', 224, 3, b // 2, True, 'model')]
        steps, warmup = args.steps, args.warmup
    peak = peak_tflops(device, args.peak_tflops)
    dev_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'CPU'
    print(f"device: {dev_name}; torch {torch.__version__}; peak bf16 {peak or '?'} TFLOP/s; "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"{'configuration':44s} {'batch':>5s} {'images/s':>9s} {'GFLOP/img':>9s} {'MFU':>6s} {'peak mem':>9s} "
          f"{'warm-up':>8s}")
    results, flops = [], {}
    for name, preset, size, C, bs, comp, kind in runs:
        label = f"{name} {'model-only' if kind == 'model' else 'end-to-end'}{', compiled' if comp else ', eager'}"
        if args.only and not any(w in label for w in args.only): continue
        t0 = time.perf_counter()
        try:
            if kind == 'model':
                r = model_only(preset, size, C, bs, steps, warmup, device, comp, args.compile_mode)
                flops[preset] = r['flops']
            else:
                # one epoch holds every step, so no epoch start (iterator, shuffle) falls inside the timing
                r = end_to_end(preset, size, C, bs, steps, warmup, device, comp, (warmup + steps + 1) * bs,
                               args.compile_mode)
                if preset not in flops:  # e.g. `--only end-to-end`: counted here, on the meta device
                    from mae_nb.model import create_mae
                    flops[preset] = flops_per_image(create_mae(preset, img_size=size, in_chans=C), size, C)
                r['flops'] = flops[preset]
        except Exception as e:  # one failing configuration (e.g. out of memory) must not hide the others
            print(f"{label:44s} {bs:5d} failed: {type(e).__name__}: {str(e)[:200]}"); continue
        ips = bs / r['step_s']
        mfu = ips * r['flops'] / (peak * 1e12) if peak and r['flops'] else None
        mem = f"{r['peak_gb']:.1f} GB" if r['peak_gb'] is not None else '-'
        print(f"{label:44s} {bs:5d} {ips:9.1f} {(r['flops'] or 0) / 1e9:9.1f} {f'{mfu:.1%}' if mfu else '-':>6s} "
              f"{mem:>9s} {r.get('warmup_s', time.perf_counter() - t0):7.0f}s", flush=True)
        results.append(dict(label=label, preset=preset, batch=bs, images_per_s=ips, flops_per_image=r['flops'], mfu=mfu,
                            peak_gb=r['peak_gb'], compiled=comp, kind=kind))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(device=dev_name, torch=torch.__version__, peak_tflops=peak,
                                                   date=time.strftime('%Y-%m-%d'), results=results), indent=1))

if __name__ == '__main__': main()
