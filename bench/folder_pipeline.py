"""Images/s of the image-folder training pipeline, before and after it crops the original image.

before: every image squished to a square of side int(img_size / 0.875), then one random resized crop per image on
        the batch (the pipeline up to 2026-11-28);
after:  `mae_dataloaders` today: the random resized crop drawn on the original image, resized once to img_size.

The old pipeline cannot load a folder of mixed sizes at all: fastai's DataBlock keeps one transform per class, so
its training `Resize` was dropped in favour of the validation one, and images of different sizes failed to batch.
So the two are compared on a folder of generated JPEGs of one size (400x300, where both run), and the new one is
also timed on a folder of mixed sizes and aspect ratios. Each pipeline makes full passes over the training loader
(decode, item and batch transforms, on the CPU), in alternation; medians are compared.
Usage: python bench/folder_pipeline.py [--n 2000] [--reps 3]
"""
import argparse, json, statistics, time, warnings
from pathlib import Path
import numpy as np, torch
from PIL import Image
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
from fastai.data.block import DataBlock, CategoryBlock
from fastai.data.transforms import IntToFloatTensor, Normalize, RandomSplitter, parent_label, get_image_files
from fastai.vision.core import PILImage, imagenet_stats
from fastai.vision.data import ImageBlock
from fastai.vision.augment import Resize, ResizeMethod, CropPad
from mae_nb.data import RandomResizedCropFlip, ResizeBatch
from mae_nb.loaders import mae_dataloaders
from mae_nb.train import hardware


def make_folder(root:Path, n:int, mixed:bool, seed:int=0) -> Path:
    "n JPEGs in 10 class folders, smooth random content; `mixed`: sides 160-640 px (aspect 1:4 to 4:1), else 400x300."
    if len(list(root.glob('*/*.jpg'))) >= n: return root
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = (int(s) for s in rng.integers(160, 641, 2)) if mixed else (400, 300)
        small = rng.integers(0, 256, (max(2, h // 32), max(2, w // 32), 3), dtype=np.uint8)
        d = root/f'class{i % 10}'; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(small).resize((w, h), Image.BICUBIC).save(d/f'{i}.jpg', quality=90)
    return root


def before(folder:Path, img_size:int, bs:int):
    "The pipeline as it was: squish to int(img_size / 0.875), then a random resized crop per image on the batch."
    bicubic = (Image.BICUBIC, Image.NEAREST)
    item = [Resize(int(img_size / 0.875), ResizeMethod.Squish, resamples=bicubic, split_idx=0),
            Resize(int(img_size / 0.875), resamples=bicubic, split_idx=1), CropPad(img_size, order=2, split_idx=1)]
    batch = [IntToFloatTensor(), RandomResizedCropFlip(img_size, generator=torch.Generator().manual_seed(0)),
             ResizeBatch(img_size), Normalize.from_stats(*imagenet_stats, cuda=False)]
    db = DataBlock(blocks=(ImageBlock(PILImage), CategoryBlock), splitter=RandomSplitter(0.05, 0), get_y=parent_label,
                   item_tfms=item, batch_tfms=batch)
    return db.dataloaders(get_image_files(folder), path=folder, bs=bs, device='cpu', num_workers=0)


def after(folder:Path, img_size:int, bs:int):
    return mae_dataloaders(str(folder), img_size=img_size, bs=bs, seed=0, device='cpu', verify=False)


def images_per_s(dls) -> float:
    n, t0 = 0, time.perf_counter()
    for x, _ in dls.train: n += len(x)
    return n / (time.perf_counter() - t0)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', type=int, default=2000); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--img-size', type=int, default=224); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--folder', default='/tmp/mae_nb_bench_jpegs'); p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    same = make_folder(Path(a.folder)/'same_size', a.n, mixed=False)
    mixed = make_folder(Path(a.folder)/'mixed_sizes', a.n, mixed=True)
    try: next(iter(before(mixed, a.img_size, a.bs).train)); before_mixed = 'runs'
    except RuntimeError as e: before_mixed = 'fails: ' + str(e).splitlines()[0]
    dls = {'before': before(same, a.img_size, a.bs), 'after': after(same, a.img_size, a.bs),
           'after, mixed sizes': after(mixed, a.img_size, a.bs)}
    for d in dls.values(): next(iter(d.train))  # warm up
    speeds = {k: [] for k in dls}
    for _ in range(a.reps):
        for k, d in dls.items(): speeds[k].append(images_per_s(d))
    med = {k: statistics.median(v) for k, v in speeds.items()}
    res = dict(images=len(dls['after'].train_ds), img_size=a.img_size, bs=a.bs, threads=a.threads, hardware=hardware(),
               speeds=speeds, median=med, after_over_before=med['after'] / med['before'],
               before_on_mixed_sizes=before_mixed)
    print(json.dumps(res, indent=1))
