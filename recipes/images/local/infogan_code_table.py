"""Which digits each InfoGAN code value holds: Q's categorical code (argmax) on the 10,000 MNIST test images
against their labels, the digits with more than 10% of a code value's images. Diagnosis only (it reads test
labels): never for choosing among runs, which `q_train_code_mi` does without labels.

    python recipes/images/local/infogan_code_table.py exp/mnist/infogan [more model dirs ...]
"""
from __future__ import annotations

import sys

import numpy as np

from speechdis.image.infogan import real_code_probs, real_images
from speechdis.image.registry import load_image_model


def main(paths: list[str]) -> None:
    for path in paths:
        m = load_image_model(path)
        _, x, y = real_images(m.config, m.seed)
        code = real_code_probs(m.modules["infogan"], x).argmax(1)
        cells = []
        for c in range(m.config.cat_dim):
            counts = np.bincount(y[code == c], minlength=10)
            top = [f"{d}:{n}" for d, n in sorted(enumerate(counts), key=lambda t: -t[1]) if n > 0.1 * counts.sum()]
            cells.append(f"code {c} = " + " + ".join(top or ["(empty)"]))
        print(f"{path}: " + "; ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
