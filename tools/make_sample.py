"""Build `mae_nb/assets/fashion_mnist_sample.npz`, the small real sample shipped inside the package.

Usage: python tools/make_sample.py [IDX_DIR]   (default: /usr/share/datasets/fashion-mnist,
installed by `apt-get install dataset-fashion-mnist`).

The sample is the first `N_TRAIN` images of each class from Fashion-MNIST's training set and the first
`N_VALID` of each class from its test set, in file order (no randomness, so the file is reproducible).
The IDX files are read through torchvision's own Fashion-MNIST loader: the `.gz` files are unpacked into its raw
folder, where it finds them already present (Debian recompressed the archives, so torchvision's checksums of the
`.gz` files would not match; the unpacked IDX files are the same).
"""
import gzip, shutil, sys, tempfile
from pathlib import Path
import numpy as np
from torchvision.datasets import FashionMNIST

N_TRAIN, N_VALID = 200, 50
OUT = Path(__file__).resolve().parents[1]/'mae_nb'/'assets'/'fashion_mnist_sample.npz'

def first_per_class(ds, n):
    y = ds.targets.numpy()
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:n] for c in range(len(ds.classes))]))
    return ds.data.numpy()[idx], y[idx].astype(np.uint8)

def main(idx_dir='/usr/share/datasets/fashion-mnist'):
    with tempfile.TemporaryDirectory() as root:
        raw = Path(root)/'FashionMNIST'/'raw'
        raw.mkdir(parents=True)
        for f in Path(idx_dir).glob('*-ubyte.gz'):
            with gzip.open(f) as src, open(raw/f.stem, 'wb') as dst: shutil.copyfileobj(src, dst)
        train, test = (FashionMNIST(root, train=t, download=False) for t in (True, False))
        x_train, y_train = first_per_class(train, N_TRAIN)
        x_valid, y_valid = first_per_class(test, N_VALID)
        np.savez_compressed(OUT, x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid)
    print(f'{OUT}: train {x_train.shape}, valid {x_valid.shape}, {OUT.stat().st_size/1e3:.0f} kB')

if __name__ == '__main__': main(*sys.argv[1:])
