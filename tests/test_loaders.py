"""Image folders through `mae_dataloaders`, at their edges: the record of a checked folder, loader processes and
pinning, crops of images of any shape, a folder without splits, sizes read from the images, 16-bit PNGs, classes
missing from a split, ImageNet's loose validation images, and the processes of a data-parallel run. Notebook 05a
shows the loaders; these are their engineering checks."""
import json, os, shutil, warnings
from pathlib import Path
from unittest import mock
import numpy as np, pytest, torch
from PIL import Image
from fastcore import test as fc  # as a module: pytest would collect its test_* functions
from fastai.vision.core import PILImageBW, TensorImage
from fastai.data.transforms import get_image_files
from torchvision.datasets import FashionMNIST
from mae_nb.patchify import load_sample
from mae_nb.data import RandomResizedCropFlip
from mae_nb.loaders import (mae_dataloaders, verify_record, readable_images, loader_workers, FolderDL,
                            RandomResizedCropImage, open_image, read_images)

X, Y = load_sample('train')

@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    "The records of checked folders go to a temporary folder."
    monkeypatch.setenv('MAE_NB_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

def make_folder(root, layout=('train', 'val'), n=10, classes=(0, 1)) -> Path:
    "`n` sample images per class saved as PNGs under root/<layout>/<class name>/."
    for c in classes:
        for s, split in enumerate(layout):
            d = Path(root)/split/FashionMNIST.classes[c].replace('/', '-')
            d.mkdir(parents=True)
            for i in (Y == c).nonzero()[s*n:(s+1)*n, 0].tolist(): Image.fromarray(X[i, 0].numpy()).save(d/f'{i}.png')
    return Path(root)

def _loaders(root, **kw): return mae_dataloaders(root, img_size=32, in_chans=3, bs=8, seed=0, **kw)

def test_a_folder_is_checked_once(tmp_path):
    "The record names the unreadable files: a second run decodes nothing first, and still says what it leaves out."
    root = make_folder(tmp_path/'f')
    (root/'train'/'Trouser'/'broken.jpg').write_bytes(b'not an image' * 50)
    with warnings.catch_warnings(): warnings.simplefilter('ignore'); first = _loaders(root)
    rec = verify_record(root, get_image_files(root, folders=['train', 'val']))
    fc.test_eq(json.loads(rec.read_text())['unreadable'], ['train/Trouser/broken.jpg'])
    with warnings.catch_warnings(record=True) as ws, mock.patch('mae_nb.loaders.verify_images') as verify:
        warnings.simplefilter('always')
        again = _loaders(root)
        verify.assert_not_called()  # read from the record
        fc.test_eq(again.train_ds.items, first.train_ds.items)
        assert any('skipped 1 unreadable' in str(w.message) for w in ws)  # and still said
        fns = get_image_files(root, folders=['train', 'val'])
        with mock.patch.dict(os.environ, {'LOCAL_RANK': '1'}):  # another process of the same machine
            fc.test_eq(len(readable_images(fns, root)), len(fns) - 1)  # reads the first one's record
            # waits for one, never checks
            fc.test_fail(lambda: readable_images(fns[1:], root, wait=0.2), contains='was not recorded')
        verify.assert_not_called()

def test_loader_processes_and_pinning(tmp_path):
    "Each training process decodes with loader processes of its own; off a GPU, pinning changes nothing."
    dls = _loaders(make_folder(tmp_path/'f'))
    fc.test_eq(dls.train.num_workers, loader_workers(None, folder=True))
    fc.test_eq(dls.train.fake_l.persistent_workers, dls.train.num_workers > 0)
    fc.test_eq(type(dls.train), FolderDL); fc.test_eq(loader_workers(None, folder=False), 0)
    fc.test_eq(loader_workers(3, folder=True), 3)
    with mock.patch('os.sched_getaffinity', return_value=set(range(96))):
        fc.test_eq(loader_workers(None, folder=True), 10)  # at most the official 10
        with mock.patch.dict(os.environ, {'LOCAL_WORLD_SIZE': '16'}): fc.test_eq(loader_workers(None, folder=True), 5)
    with mock.patch('os.sched_getaffinity', return_value={0}), warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        fc.test_eq(loader_workers(None, folder=True), 0)
    assert any('decodes its own images (num_workers=0)' in str(w.message) for w in ws)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch: no accelerator, nothing to pin
        dl_own, dl_fastai = (_loaders(tmp_path/'f', num_workers=0).train for _ in range(2))
        dl_own.pin_memory = True
        for (xo, yo), (xf, yf) in zip(dl_own, dl_fastai):
            fc.test_eq(xo, xf); fc.test_eq(yo, yf); fc.test_eq(type(xo), TensorImage)

def test_a_crop_is_drawn_on_the_original_image(tmp_path):
    "On a 64×32 ramp, square boxes are square in the image's pixels; the output is PIL's bicubic resize of the box."
    ramp = PILImageBW.create((torch.arange(64) * 4).repeat(32, 1).to(torch.uint8))  # 64 wide, 32 high
    for s in range(3):
        out = RandomResizedCropImage(16, (0.25, 0.25), (1., 1.), flip_p=0.,
                                     generator=torch.Generator().manual_seed(s))(ramp, split_idx=0)
        boxes = RandomResizedCropFlip(16, (0.25, 0.25), (1., 1.),
                                      generator=torch.Generator().manual_seed(s)).crop_boxes(1, 32, 64)
        w, h, cx, cy = (t.item() for t in boxes)
        # square, a quarter of the area
        fc.test_close(w * 64, h * 32, eps=1e-4); fc.test_close(w * 64 * h * 32, 0.25 * 64 * 32, eps=1e-2)
        box = ((cx - w + 1) * 32, (cy - h + 1) * 16, (cx + w + 1) * 32, (cy + h + 1) * 16)
        fc.test_eq(np.asarray(out), np.asarray(ramp.resize((16, 16), Image.BICUBIC, box=box)))
    # validation items are left to the evaluation crop
    fc.test_eq(RandomResizedCropImage(16)(ramp, split_idx=1).size, ramp.size)
    mixed = tmp_path/'mixed'; mixed.mkdir()  # images of several sizes and aspect ratios batch, training and validation
    for j, (w, h) in enumerate([(40, 20), (20, 50), (33, 33), (64, 48)] * 10):
        Image.fromarray(X[j, 0].numpy()).resize((w, h)).save(mixed/f'{j}.png')
    dls = mae_dataloaders(mixed, img_size=16, in_chans=3, bs=4, seed=0, valid_bs=1)
    fc.test_eq(dls.train.one_batch()[0].shape, (4, 3, 16, 16))
    fc.test_eq(dls.valid.one_batch()[0].shape, (1, 3, 16, 16))

@pytest.fixture
def flat(tmp_path) -> Path:
    "A folder without train/ and val/: 40 images of 2 classes."
    return make_folder(tmp_path/'flat', layout=('all',), n=20)/'all'

def test_a_folder_without_splits(flat, tmp_path):
    "5% held out at random, the same 5% for the same seed; grey with `in_chans=1`; empty or missing folders refused."
    split0 = mae_dataloaders(flat, img_size=16, bs=4, seed=0).valid_ds.items
    fc.test_eq(len(split0), 2)  # 5% of 40
    fc.test_eq(mae_dataloaders(flat, img_size=16, bs=4, seed=0).valid_ds.items, split0)
    grey = mae_dataloaders(flat, img_size=16, bs=4, in_chans=1, seed=0)
    fc.test_eq(grey.one_batch()[0].shape, (4, 1, 16, 16)); fc.test_eq(grey.stats[0].shape, (1,))
    (tmp_path/'empty').mkdir()
    fc.test_fail(lambda: mae_dataloaders(tmp_path/'empty'), contains='expected image files')
    fc.test_fail(lambda: mae_dataloaders(make_folder(tmp_path/'few', layout=('all',), n=5)/'all', img_size=16, bs=2),
                 contains="its 10 images leave none for validation at 5% held out")
    fc.test_fail(lambda: mae_dataloaders('/no/such/folder'), contains="got '/no/such/folder', which is not a folder")

def test_sizes_from_the_images(flat):
    "With neither size nor channels given, they come from the images (see `size_note`); a size over twice theirs warns."
    dls = mae_dataloaders(flat, bs=4, seed=0, multiple_of=8)
    fc.test_eq((dls.img_size, dls.in_chans), (24, 1)); fc.test_eq(dls.one_batch()[0].shape, (4, 1, 24, 24))
    fc.test_eq(dls.size_note, f"image size 24 and 1 channel: from the images in {flat} (typically 28 px)")
    fc.test_eq(mae_dataloaders(flat, bs=4, img_size=28, in_chans=1).size_note, None)  # nothing left to the data
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        mae_dataloaders(flat, bs=4, img_size=64, in_chans=1)
    assert any('about 28 px and are upscaled 2.3x to 64 px' in str(w.message) for w in ws), [str(w.message) for w in ws]

def test_a_16_bit_png(flat):
    "Pixels spanning 0 to 65,535: PIL alone clips most to white; `open_image`, the loaders, `read_images` scale them."
    ramp16 = (np.arange(28 * 28).reshape(28, 28) * 83).astype(np.uint16)  # 0 ... 65,006
    for f in list(flat.rglob('*.png'))[:5]: Image.fromarray(ramp16).save(f)
    f16 = next(f for f in flat.rglob('*.png') if Image.open(f).mode.startswith('I'))
    assert (np.asarray(Image.open(f16).convert('L')) == 255).mean() > 0.9  # what PIL alone would give
    scaled = np.asarray(open_image(f16, 'L'))
    fc.test_eq(scaled.dtype, np.uint8); fc.test_close(scaled.astype(float), ramp16 / 257, eps=0.51)
    dls = mae_dataloaders(flat, bs=4, img_size=28, in_chans=1, seed=0)
    ds = dls.train_ds if f16 in dls.train_ds.items else dls.valid_ds
    fc.test_eq(np.asarray(ds[ds.items.index(f16)][0]), scaled)  # the file as the loaders decode it
    imgs, notes = read_images([f16], 28, 1)
    fc.test_eq(imgs[0, 0].numpy(), scaled); assert 'converted I;16 images to grey' in notes[0], notes

def test_a_class_missing_from_training(tmp_path):
    "A run that reads labels stops before training, naming the folder; pretraining reads every class there is."
    odd = make_folder(tmp_path/'odd')
    shutil.copytree(odd/'val'/'Trouser', odd/'val'/'Sneaker')
    fc.test_fail(lambda: mae_dataloaders(odd, img_size=28, bs=4),
                 contains=f"{odd/'val'} has classes with no folder in {odd/'train'}: Sneaker")
    dls = mae_dataloaders(odd, img_size=28, bs=4, labels=False)
    fc.test_eq(dls.classes, ['Sneaker', 'T-shirt-top', 'Trouser']); fc.test_eq(len(dls.valid_ds), 30)
    fc.test_eq(sum(len(y) for _, y in dls.valid), 30)  # every validation image loads

def test_imagenet_loose_validation_images(tmp_path):
    "A `val/` of loose images stops the run before any work, saying why; images deeper than split/class/ are left out."
    loose = make_folder(tmp_path/'loose')
    for f in list((loose/'val').rglob('*.png')): f.rename(loose/'val'/f.name)
    for d in (loose/'val').iterdir(): d.is_dir() and d.rmdir()
    fc.test_fail(lambda: mae_dataloaders(loose, img_size=28, bs=4),
                 contains=f"{loose/'val'} gives the validation split no images: its 20 images lie directly in it")
    deep = make_folder(tmp_path/'deep'); (deep/'train'/'Trouser'/'more').mkdir()
    shutil.copy(next((deep/'train'/'Trouser').glob('*.png')), deep/'train'/'Trouser'/'more'/'extra.png')
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        fc.test_eq(len(mae_dataloaders(deep, img_size=28, bs=4).train_ds), 20)
    assert any('1 image files under' in str(w.message) and 'are left out' in str(w.message) for w in ws), \
        [str(w.message) for w in ws]

def test_the_processes_of_a_data_parallel_run(flat):
    "One validation split for the whole run; each process its own shuffle and crops."
    def as_rank(r):
        with mock.patch.dict(os.environ, {'RANK': str(r), 'WORLD_SIZE': '2'}):
            return mae_dataloaders(flat, img_size=16, bs=4, seed=0)
    r0, r1 = as_rank(0), as_rank(1)
    fc.test_eq(r1.valid_ds.items, r0.valid_ds.items)
    fc.test_ne(r1.train.rng.random(), r0.train.rng.random())
    crops = lambda dls: [t for t in dls.train.after_item.fs
                         if isinstance(t, RandomResizedCropImage)][0].generator.initial_seed()
    fc.test_eq((crops(r0), crops(r1)), (0, 1))

def test_arguments_are_checked_before_any_data_is_read(tmp_path):
    x_valid, y_valid = load_sample('valid')
    fc.test_fail(lambda: mae_dataloaders(source=3), contains="'sample' or 'fashion_mnist' or 'fashion_mnist_dev' or "
                                                            "'imagenette', a folder, or ((train")
    fc.test_fail(lambda: mae_dataloaders(crop_scale=(0.5, 0.2)),
                 contains='crop_scale must be (min, max) with 0 < min <= max <= 1, got (0.5, 0.2)')
    fc.test_fail(lambda: mae_dataloaders((X, Y)), contains='a tuple of another shape')
    fc.test_fail(lambda: mae_dataloaders(((X.float(), Y), (x_valid, y_valid))),
                 contains='train images as a uint8 tensor (N, C, H, W), got Tensor torch.float32')
    fc.test_fail(lambda: mae_dataloaders(((X, Y), (x_valid, y_valid[:3]))),
                 contains='valid labels as an int64 tensor (500,)')
    fc.test_fail(lambda: mae_dataloaders('fashion-mnist'), contains="got 'fashion-mnist', which is not a folder")
    fc.test_fail(lambda: mae_dataloaders(in_chans=2), contains='in_chans must be 1 or 3, got 2')
    fc.test_fail(lambda: mae_dataloaders(img_size=0.5), contains='img_size must be a positive int, got 0.5')
    fc.test_fail(lambda: mae_dataloaders('sample', path='/data'),
                 contains="source='fashion_mnist' or 'fashion_mnist_dev', got source='sample'")
    fc.test_fail(lambda: mae_dataloaders('fashion_mnist', path=tmp_path), contains='no Fashion-MNIST IDX files')
