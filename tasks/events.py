"""Event-camera and cochlea data sets: Spiking Heidelberg Digits (``shd``) and N-MNIST (``nmnist``).

Both read files the user downloaded; nothing is fetched. The folder is the task option
``path``, else ``$EVOSPIKE_DATA/shd`` (``/nmnist``), else ``~/data/shd`` (``~/data/nmnist``).

- ``shd`` (https://zenkelab.org/datasets/): ``shd_train.h5`` and ``shd_test.h5`` (gunzipped
  from the ``.h5.gz`` downloads), HDF5 with ``spikes/times`` (seconds), ``spikes/units``
  (channel 0..699) and ``labels`` (0..19), read with h5py (``pip install 'evospike[datasets]'``).
  700 input channels, 20 classes; the official files are the train and test splits.
- ``nmnist`` (https://www.garrickorchard.com/datasets/n-mnist): ``Train.zip`` and ``Test.zip``
  unzipped into ``Train/0..9/*.bin`` and ``Test/0..9/*.bin`` (the folder is the label). Each
  event is 5 bytes, 40 bits big-endian: x (8 bits, 0..33), y (8 bits, 0..33), polarity
  (1 bit), timestamp in microseconds (23 bits). Channel ``polarity * 34*34 + y * 34 + x``
  (2,312 channels), 10 classes. The reader is :func:`read_nmnist_file`, a few vectorized
  numpy lines, not tonic: tonic 1.7.0 needs no torch but requires librosa, scipy,
  importRosbag and expelliarmus, far more than decoding 5-byte records. As Orchard's own
  reader (and tonic) do, an event with y = 240 marks a timestamp overflow: it adds 2**13 us
  to every later event and is not an event itself.

Binning: an event at time t (seconds from the sample's start) goes to step
``floor(t / dt)``; a time within one unit in the last place (of its float type) or 1e-9
steps below a bin edge counts as at the edge, so float32 0.03 s is step 3 of 0.01 s, not 2.
Events at or beyond ``steps * dt`` are dropped, and several events of one channel in one
step are one input spike, so inputs are 0/1. The binned (step, channel) pairs are computed once at load,
stored compactly per sample, and the dense (steps, B, channels) input is built only for
the samples of a call.

Options: ``steps``, ``dt`` (seconds per step; defaults: SHD 100 x 0.01 s = 1 s, N-MNIST
60 x 0.005 s = 300 ms), ``batch_size`` (training samples per generation, the same for
every network, drawn by the generation's seed; 0: all), ``limit`` and
``validation_limit`` (use at most this many training / test samples, a stratified
subset seeded by ``split_seed``; 0: all), ``temperature``, ``fitness`` and ``reset`` as in
:mod:`tasks.classification`, whose scoring, metrics and fitness these tasks share.
``validate``: accuracy on the test split, in chunks of ``CHUNK`` samples.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurons import NetworkBatch
from neurons.extras import install_hint

from .base import DataOnUse, Evaluation, Preset, TaskError, int_option, positive_option, reset_option
from .classification import FITNESS, _Classifier, stratified_subset

__all__ = ["SHD", "NMNIST", "EventSet", "bin_events", "stratified_subset", "data_folder", "load_shd",
           "read_nmnist_file", "nmnist_files", "load_nmnist", "CHUNK"]

CHUNK = 512  # samples per validation call of the simulator, and per read when loading
SHD_URL = "https://zenkelab.org/datasets/"
NMNIST_URL = "https://www.garrickorchard.com/datasets/n-mnist"
SHD_CHANNELS, SHD_CLASSES = 700, 20
NMNIST_SIDE, NMNIST_CLASSES = 34, 10
NMNIST_CHANNELS = 2 * NMNIST_SIDE * NMNIST_SIDE
OVERFLOW_Y, OVERFLOW_US = 240, 2**13


@dataclass
class EventSet:
    """Binned events of n samples: sample i's input spikes are ``codes[offsets[i]:offsets[i + 1]]``,
    each ``step * n_in + channel``, sorted and unique; ``labels`` (n,) int64."""

    codes: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    steps: int
    n_in: int

    def __len__(self) -> int:
        return self.labels.shape[0]

    def spikes(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(step, channel) int64 arrays of sample i's input spikes."""
        step, channel = np.divmod(self.codes[self.offsets[i]:self.offsets[i + 1]].astype(np.int64), self.n_in)
        return step, channel

    def dense(self, rows: np.ndarray) -> np.ndarray:
        """The (steps, len(rows), n_in) float32 0/1 input of samples ``rows``."""
        rows = np.asarray(rows, np.int64)
        starts, counts = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        ends = np.cumsum(counts)
        pos = np.arange(ends[-1] if ends.size else 0) + np.repeat(starts - (ends - counts), counts)
        step, channel = np.divmod(self.codes[pos].astype(np.int64), self.n_in)
        b = np.repeat(np.arange(rows.size), counts)
        x = np.zeros((self.steps, rows.size, self.n_in), np.float32)
        x.reshape(-1)[(step * rows.size + b) * self.n_in + channel] = 1.0
        return x


def bin_events(lengths: np.ndarray, t: np.ndarray, channel: np.ndarray, *, dt: float, steps: int,
               n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, counts) of samples whose events are concatenated in ``t`` (seconds) and
    ``channel``, ``lengths[i]`` events for sample i: each sample's unique ``step * n_in + channel``
    pairs, ``step = floor(t / dt)``, events at or beyond ``steps * dt`` dropped."""
    lengths = np.asarray(lengths, np.int64)
    sample = np.repeat(np.arange(lengths.size), lengths)
    t = np.asarray(t)
    if t.dtype.kind == "f":  # a time stored one unit in the last place below a bin edge is at the edge
        t = t + np.spacing(t)
    step = np.floor(t.astype(np.float64) / dt + 1e-9).astype(np.int64)
    keep = step < steps
    size = steps * n_in
    key = sample[keep] * size + step[keep] * n_in + np.asarray(channel, np.int64)[keep]
    if lengths.size * size <= 2**27:  # a mask over every (sample, step, channel): sorted and unique in O(n)
        mask = np.zeros(lengths.size * size, bool)
        mask[key] = True
        key = np.flatnonzero(mask)
    else:
        key.sort()
        key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
    which, codes = np.divmod(key, size)
    return codes.astype(np.int32 if size < 2**31 else np.int64), np.bincount(which, minlength=lengths.size)


def _join(parts: list[tuple[np.ndarray, np.ndarray]], labels: np.ndarray, steps: int, n_in: int) -> EventSet:
    codes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    counts = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return EventSet(codes, offsets, np.asarray(labels, np.int64), steps, n_in)


def data_folder(name: str, path: Any) -> Path:
    """The task option ``path``, else ``$EVOSPIKE_DATA/name``, else ``~/data/name``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TaskError(f"task option path: {path!r}; expected a folder (a string)")
    if str(path):
        return Path(path).expanduser()
    root = os.environ.get("EVOSPIKE_DATA")
    return Path(root).expanduser() / name if root else Path.home() / "data" / name


# ----- SHD -----

def _shd_missing(folder: Path, file: str) -> TaskError:
    how = (f"download shd_train.h5.gz and shd_test.h5.gz from {SHD_URL}, gunzip them into that folder, "
           f"or pass the task option path=DIR")
    if not folder.is_dir():
        return TaskError(f"shd: no folder '{folder}'; {how}")
    if (folder / f"{file}.gz").is_file():
        return TaskError(f"shd: '{folder / file}.gz' is still gzipped; gunzip it (gunzip '{folder / file}.gz') "
                         f"to get '{file}', or pass the task option path=DIR")
    return TaskError(f"shd: no file '{file}' in '{folder}'; {how}")


def load_shd(file: Path, *, steps: int, dt: float, limit: int = 0, seed: Any = 0) -> EventSet:
    """The binned samples of one SHD file (a stratified subset of ``limit`` when > 0)."""
    try:
        import h5py
    except ImportError:
        raise TaskError(f"task 'shd' needs h5py: {install_hint('datasets')}") from None
    bad = f"shd: file '{file}'"
    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        why = " ".join(str(exc).split())
        raise TaskError(f"{bad} is not a readable HDF5 file ({why}); download it again from {SHD_URL}") from None
    with f:
        ds = {k: f.get(k) for k in ("spikes/times", "spikes/units", "labels")}
        missing = [k for k, v in ds.items() if not isinstance(v, h5py.Dataset)]
        if missing:
            raise TaskError(f"{bad} has no dataset {missing[0]!r}; expected spikes/times, spikes/units and labels "
                            f"(the SHD format of {SHD_URL})")
        times, units = ds["spikes/times"], ds["spikes/units"]
        labels = np.asarray(ds["labels"][()]).astype(np.int64, copy=False)
        n = labels.size
        if labels.ndim != 1 or times.shape != (n,) or units.shape != (n,) or n == 0:
            raise TaskError(f"{bad}: labels {labels.shape}, spikes/times {times.shape} and spikes/units "
                            f"{units.shape}; expected the same number (> 0) of samples in each")
        if labels.min() < 0 or labels.max() >= SHD_CLASSES:
            raise TaskError(f"{bad}: labels in [{labels.min()}, {labels.max()}]; expected 0..{SHD_CLASSES - 1}")
        rows = stratified_subset(labels, limit, seed)
        everything = rows.size == n
        parts = []
        for lo in range(0, rows.size, CHUNK):
            chunk = rows[lo:lo + CHUNK]
            sel = slice(int(chunk[0]), int(chunk[-1]) + 1) if everything else chunk
            try:
                if times.dtype.kind != "O" or units.dtype.kind != "O":  # h5py's variable-length arrays read as objects
                    raise ValueError(f"spikes/times is {times.dtype} and spikes/units {units.dtype}; expected one "
                                     f"variable-length array per sample")
                ts, us = times[sel], units[sel]
                lengths = np.array([np.size(a) for a in ts], np.int64)
                if not np.array_equal(lengths, [np.size(a) for a in us]):
                    raise ValueError("spikes/times and spikes/units differ in length")
                t = np.concatenate([np.asarray(a, np.float64).ravel() for a in ts])
                u = np.concatenate([np.asarray(a, np.int64).ravel() for a in us])
            except (TypeError, ValueError) as exc:
                raise TaskError(f"{bad}: samples {int(chunk[0])}..{int(chunk[-1])} are not arrays of spike times "
                                f"and units ({exc})") from None
            except OSError as exc:  # a damaged file that h5py opened
                raise TaskError(f"{bad} is damaged ({exc}); download it again from {SHD_URL}") from None
            if not np.isfinite(t).all() or (t < 0).any():
                raise TaskError(f"{bad}: spikes/times has negative or non-finite times; expected seconds >= 0")
            if u.size and (u.min() < 0 or u.max() >= SHD_CHANNELS):
                raise TaskError(f"{bad}: spikes/units in [{u.min()}, {u.max()}]; expected 0..{SHD_CHANNELS - 1}")
            parts.append(bin_events(lengths, t, u, dt=dt, steps=steps, n_in=SHD_CHANNELS))
    return _join(parts, labels[rows], steps, SHD_CHANNELS)


# ----- N-MNIST -----

def read_nmnist_file(file: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, polarity, timestamp in us) int64 arrays of one N-MNIST ``.bin`` file; overflow
    markers (y = 240) are applied to the timestamps and left out."""
    try:
        raw = np.fromfile(file, np.uint8)
    except OSError as exc:  # a folder, or a file that cannot be read
        raise TaskError(f"nmnist: cannot read '{file}' ({type(exc).__name__}: {exc.strerror or exc}); expected an "
                        f"N-MNIST .bin file") from None
    if raw.size % 5:
        raise TaskError(f"nmnist: file '{file}' has {raw.size} bytes, not a multiple of 5 (5 bytes per event); "
                        f"is it an N-MNIST .bin file?")
    ev = raw.reshape(-1, 5).astype(np.int64)
    x, y = ev[:, 0], ev[:, 1]
    polarity = ev[:, 2] >> 7
    t = ((ev[:, 2] & 0x7F) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    overflow = y == OVERFLOW_Y
    if overflow.any():
        t = t + OVERFLOW_US * np.cumsum(overflow)
        keep = ~overflow
        x, y, polarity, t = x[keep], y[keep], polarity[keep], t[keep]
    if x.size and (x.max() >= NMNIST_SIDE or y.max() >= NMNIST_SIDE):
        raise TaskError(f"nmnist: file '{file}' has pixels up to x={x.max()}, y={y.max()}; expected 0..33 "
                        f"(is it an N-MNIST .bin file?)")
    return x, y, polarity, t


def nmnist_files(folder: Path, split: str) -> tuple[list[Path], np.ndarray]:
    """The ``.bin`` files of ``folder/split/0..9`` (sorted) and their labels."""
    how = (f"download Train.zip and Test.zip from {NMNIST_URL} and unzip them into that folder "
           f"(giving Train/0..9/*.bin and Test/0..9/*.bin), or pass the task option path=DIR")
    if not folder.is_dir():
        raise TaskError(f"nmnist: no folder '{folder}'; {how}")
    if not (folder / split).is_dir():
        zipped = " (unzip it)" if (folder / f"{split}.zip").is_file() else ""
        raise TaskError(f"nmnist: no folder '{split}' in '{folder}'{zipped}; {how}")
    files, labels = [], []
    for digit in range(NMNIST_CLASSES):
        found = sorted((folder / split / str(digit)).glob("*.bin"))
        if not found:
            raise TaskError(f"nmnist: no .bin files in '{folder / split / str(digit)}'; {how}")
        files += found
        labels += [digit] * len(found)
    return files, np.array(labels, np.int64)


def load_nmnist(folder: Path, split: str, *, steps: int, dt: float, limit: int = 0, seed: Any = 0) -> EventSet:
    """The binned samples of ``folder/split`` (a stratified subset of ``limit`` when > 0),
    read one file after the other, keeping only the binned pairs."""
    files, labels = nmnist_files(folder, split)
    rows = stratified_subset(labels, limit, seed)
    parts = []
    for lo in range(0, rows.size, CHUNK):
        lengths, ts, channels = [], [], []
        for i in rows[lo:lo + CHUNK]:
            x, y, p, t = read_nmnist_file(files[i])
            lengths.append(t.size)
            ts.append(t * 1e-6)
            channels.append(p * NMNIST_SIDE * NMNIST_SIDE + y * NMNIST_SIDE + x)
        parts.append(bin_events(np.array(lengths), np.concatenate(ts), np.concatenate(channels), dt=dt, steps=steps,
                                n_in=NMNIST_CHANNELS))
    return _join(parts, labels[rows], steps, NMNIST_CHANNELS)


# ----- the tasks -----

class _EventTask(DataOnUse, _Classifier):
    """An event data set as a spiking classification task (options: the module docstring)."""

    spike_input = True  # binned events are input spikes: synaptic_events counts their synapses

    name: str = ""

    def _setup(self, path: Any, steps: int, dt: float, batch_size: int, limit: int, validation_limit: int,
               split_seed: int, temperature: float, fitness: str, reset: str) -> None:
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < dt < math.inf):
            raise TaskError(f"task option dt: {dt!r}; expected seconds per step, a number > 0")
        positive_option("temperature", temperature)
        if fitness not in FITNESS:
            raise TaskError(f"task option fitness: {fitness!r}; expected one of {', '.join(FITNESS)}")
        reset_option(reset)
        folder = data_folder(self.name, path)
        self.options = dict(path=str(folder), steps=int_option("steps", steps, 1), dt=float(dt),
                            batch_size=int_option("batch_size", batch_size, 0, " (0: all training samples)"),
                            limit=int_option("limit", limit, 0, " (0: all)"),
                            validation_limit=int_option("validation_limit", validation_limit, 0, " (0: all)"),
                            split_seed=int_option("split_seed", split_seed, 0), temperature=float(temperature),
                            fitness=fitness, reset=reset)
        self._folder = folder
        self._begin_data()

    def _read_sets(self) -> dict[str, EventSet]:
        """The training and test sets (``_data``)."""
        o, folder = self.options, self._folder
        self._check(folder)  # every file, before the long read of any
        return {split: self._load(folder, split, steps=o["steps"], dt=o["dt"], limit=o[key], seed=[o["split_seed"], k])
                for k, (split, key) in enumerate((("train", "limit"), ("test", "validation_limit")))}

    def _check(self, folder: Path) -> None:
        raise NotImplementedError

    def input_bytes(self) -> tuple[int, str]:
        if self._sets is None:  # data deferred: nothing read, nothing to size
            return 0, ""
        o, train = self.options, len(self._data["train"])
        batch = min(o["batch_size"] or train, train)
        samples = max(batch, min(CHUNK, len(self._data["test"])))
        return 4 * o["steps"] * samples * self.n_inputs, \
            (f"task.steps = {o['steps']} with task.batch_size = {o['batch_size']} (a dense float32 input of "
             f"steps x {samples} samples x {self.n_inputs} channels)")

    def _load(self, folder: Path, split: str, **kw: Any) -> EventSet:
        raise NotImplementedError

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        train = self._data["train"]
        rows = self._batch(len(train), seed)
        return self._score(nets, train.dense(rows), train.labels[rows], soft=True)

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        """Accuracy on the test split; every metric the mean over all its samples."""
        test = self._data["test"]
        return self._validate_chunks(nets, test.labels, test.dense, CHUNK)

    def _record_input(self, seed: int) -> np.ndarray:
        return self._data["test"].dense(np.array([0]))


_NOTE = ("a starting point, not tuned on the real data: OpenAI-ES on a {} -> 128 -> {} spiking network, "
         "minibatches of 128, softmax temperature 10")


def _preset(n_in: int, n_out: int) -> Preset:
    return Preset("openes", 300, strategy_options={"population": 256, "sigma0": 0.05, "learning_rate": 0.01,
                                                   "init_std": 0.05},
                  genome={"hidden": [128], "recurrent": False, "evolve": ["weights", "thresholds"]},
                  task={"batch_size": 128, "temperature": 10.0}, run={"checkpoint_every": 10},
                  note=_NOTE.format(n_in, n_out))


class SHD(_EventTask):
    """Spiking Heidelberg Digits: 700 cochlea channels, 20 spoken digits (files you download).

    The preset is a starting point, not tuned on the real data."""

    name, n_inputs, n_outputs = "shd", SHD_CHANNELS, SHD_CLASSES
    preset = _preset(SHD_CHANNELS, SHD_CLASSES)

    def __init__(self, *, path: str = "", steps: int = 100, dt: float = 0.01, batch_size: int = 256, limit: int = 0,
                 validation_limit: int = 0, split_seed: int = 0, temperature: float = 2.0,
                 fitness: str = "probability", reset: str = "subtract") -> None:
        self._setup(path, steps, dt, batch_size, limit, validation_limit, split_seed, temperature, fitness, reset)

    def _check(self, folder: Path) -> None:
        for file in ("shd_train.h5", "shd_test.h5"):
            if not (folder / file).is_file():
                raise _shd_missing(folder, file)

    def _load(self, folder: Path, split: str, **kw: Any) -> EventSet:
        return load_shd(folder / f"shd_{split}.h5", **kw)


class NMNIST(_EventTask):
    """N-MNIST: saccading event-camera digits, 2x34x34 channels, 10 classes (files you download).

    The preset is a starting point, not tuned on the real data."""

    name, n_inputs, n_outputs = "nmnist", NMNIST_CHANNELS, NMNIST_CLASSES
    preset = _preset(NMNIST_CHANNELS, NMNIST_CLASSES)

    def __init__(self, *, path: str = "", steps: int = 60, dt: float = 0.005, batch_size: int = 256, limit: int = 0,
                 validation_limit: int = 0, split_seed: int = 0, temperature: float = 2.0,
                 fitness: str = "probability", reset: str = "subtract") -> None:
        self._setup(path, steps, dt, batch_size, limit, validation_limit, split_seed, temperature, fitness, reset)

    def _check(self, folder: Path) -> None:
        for split in ("Train", "Test"):
            nmnist_files(folder, split)

    def _load(self, folder: Path, split: str, **kw: Any) -> EventSet:
        return load_nmnist(folder, split.capitalize(), **kw)
