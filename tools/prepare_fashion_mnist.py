"""Put Fashion-MNIST where the configs expect it (data/fashion_mnist).

Unzips the four original idx files from Debian's ``dataset-fashion-mnist``
package (/usr/share/datasets/fashion-mnist) or from ``--src``. mmpretrain's
``FashionMNIST`` reads the unzipped files; on a machine with internet access,
``--cfg-options train_dataloader.dataset.download=True`` lets it download them
instead.
"""
import argparse
import gzip
import os
import shutil
import sys

FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--src', default=DEBIAN_DIR)
    parser.add_argument('--dst', default='data/fashion_mnist')
    args = parser.parse_args()
    os.makedirs(args.dst, exist_ok=True)
    for name in FILES:
        dst = os.path.join(args.dst, name)
        if os.path.exists(dst):
            continue
        src = os.path.join(args.src, name + '.gz')
        if not os.path.exists(src):
            print(f'{src} not found. Install Debian\'s dataset-fashion-mnist '
                  f'package (apt-get install dataset-fashion-mnist) or pass '
                  f'--src DIR with the four .gz files.', file=sys.stderr)
            return 1
        tmp = dst + '.part'
        with gzip.open(src, 'rb') as fin, open(tmp, 'wb') as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, dst)
    print(f'Fashion-MNIST ready in {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
