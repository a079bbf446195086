"""Small SHD and N-MNIST files written in the real formats, for the tests."""
from pathlib import Path

import numpy as np


def write_shd(file: Path, samples) -> None:
    """samples: [(times in s, units, label)] in the SHD layout (needs h5py)."""
    import h5py
    with h5py.File(file, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u, _) in enumerate(samples):
            times[i], units[i] = np.asarray(t, np.float32), np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.array([s[2] for s in samples], np.uint16))


def shd_samples(per_class: int, seed: int, classes: int = 20) -> list:
    """per_class samples of each class: class c fires channels 35c..35c+4 early, plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(classes):
        for _ in range(per_class):
            n = 30
            t = np.sort(rng.uniform(0, 0.9, n))
            u = np.concatenate([35 * c + rng.integers(0, 5, 20), rng.integers(0, 700, n - 20)])
            out.append((t, u, c))
    return out


def write_shd_dir(folder: Path) -> Path:
    """shd_train.h5 (3 samples per class) and shd_test.h5 (2 per class) in ``folder``."""
    write_shd(folder / "shd_train.h5", shd_samples(3, 0))
    write_shd(folder / "shd_test.h5", shd_samples(2, 1))
    return folder


def encode(x, y, p, t) -> bytes:
    """N-MNIST records, byte by byte: x, y, then polarity (bit 23) and the 23-bit timestamp."""
    out = bytearray()
    for xi, yi, pi, ti in zip(x, y, p, t):
        rest = (pi << 23) | ti
        out += bytes([xi, yi, (rest >> 16) & 0xFF, (rest >> 8) & 0xFF, rest & 0xFF])
    return bytes(out)


def write_nmnist(root: Path, per_class: int, seed: int) -> Path:
    """Train/D/NNNNN.bin and Test/D/NNNNN.bin, ``per_class`` files per digit D, 12 events each."""
    rng = np.random.default_rng(seed)
    for split in ("Train", "Test"):
        for digit in range(10):
            folder = root / split / str(digit)
            folder.mkdir(parents=True)
            for k in range(per_class):
                n = 12
                x, y = rng.integers(0, 34, n), rng.integers(0, 34, n)
                p, t = rng.integers(0, 2, n), np.sort(rng.integers(0, 300_000, n))
                (folder / f"{k:05d}.bin").write_bytes(encode(x, y, p, t))
    return root
