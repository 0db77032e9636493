"""RandAugment on a fine-tuning batch: torchvision's transform image by image, against `BatchRandAugment` (each
operation applied once to all the images that drew it). Median of 9 timed calls after 2 warm-ups, in one run.

    python bench/randaugment.py [--bs 256] [--size 28] [--device cuda]
"""
import argparse, statistics, time, warnings
import torch
from torch import Tensor
warnings.filterwarnings('ignore', message='.*(deprecated|No CUDA runtime).*')
from torchvision.transforms import v2
from fastai.torch_core import TensorImage
from mae_nb.finetune import BatchRandAugment

def timed(f, device, n=9):
    for _ in range(2): f()
    ts = []
    for _ in range(n):
        if device.type == 'cuda': torch.cuda.synchronize()
        t0 = time.perf_counter(); f()
        if device.type == 'cuda': torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bs', type=int, default=256); ap.add_argument('--size', type=int, default=28)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    a = ap.parse_args()
    device = torch.device(a.device)
    x = TensorImage(torch.rand(a.bs, 1, a.size, a.size, device=device))
    per_image, batched = v2.RandAugment(2, 9), BatchRandAugment(2, 9)
    t_old = timed(lambda: torch.stack([per_image(xi) for xi in x.as_subclass(Tensor)]), device)
    t_new = timed(lambda: batched(x, split_idx=0), device)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f"{name}; batch {a.bs} of {a.size} px; torch {torch.__version__}; {time.strftime('%Y-%m-%d')}")
    print(f"image by image: {1e3 * t_old:.1f} ms   batched: {1e3 * t_new:.1f} ms   ratio {t_old / t_new:.1f}x")
