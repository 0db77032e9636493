"""Build `mae_nb/assets/fashion_mnist_sample.npz`, the small real sample shipped inside the package.

Usage: python tools/make_sample.py [IDX_DIR [OUT]]   (default IDX_DIR: /usr/share/datasets/fashion-mnist,
installed by `apt-get install dataset-fashion-mnist`).

The sample is the first `N_TRAIN` images of each class from Fashion-MNIST's training set and the first
`N_VALID` of each class from its test set, in file order (no randomness, so the file is reproducible).
The IDX files are read by `mae_nb.data.read_fashion_mnist`, through torchvision's own Fashion-MNIST loader (see the
`05_data` notebook for why the Debian `.gz` files are unpacked first).
"""
import sys
from pathlib import Path
import numpy as np
from mae_nb.data import read_fashion_mnist

N_TRAIN, N_VALID = 200, 50
OUT = Path(__file__).resolve().parents[1]/'mae_nb'/'assets'/'fashion_mnist_sample.npz'

def first_per_class(x, y, n):
    "The first `n` images of each class, in file order: `(M, 28, 28)` uint8 and `(M,)` uint8."
    x, y = x[:, 0].numpy(), y.numpy()
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:n] for c in range(10)]))
    return x[idx], y[idx].astype(np.uint8)

def main(idx_dir='/usr/share/datasets/fashion-mnist', out=OUT):
    train, test = read_fashion_mnist(idx_dir)
    x_train, y_train = first_per_class(*train, N_TRAIN)
    x_valid, y_valid = first_per_class(*test, N_VALID)
    out = Path(out)
    np.savez_compressed(out, x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid)
    print(f'{out}: train {x_train.shape}, valid {x_valid.shape}, {out.stat().st_size/1e3:.0f} kB')

if __name__ == '__main__': main(*sys.argv[1:])
