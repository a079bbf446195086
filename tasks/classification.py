"""Classification tasks: scikit-learn's bundled data sets and generated temporal patterns.

Data sets (``iris``, ``wine``, ``breast-cancer``, ``digits``) come from scikit-learn's
bundled loaders (``pip install 'evospike[datasets]'``). A fixed stratified split
(``test_fraction``, seeded by ``split_seed``) separates training and test samples;
features are standardized with the training split's mean and deviation (clipped to
+-3 deviations) and presented for ``steps`` LIF steps, either as constant input currents
(``encoding="current"``) or through ``fields`` Gaussian receptive fields per feature
(``encoding="population"``). There is one output neuron per class; the answer is the
output with the most spikes, ties broken by the higher membrane potential.

Fitness (training split): the mean probability of the true class under a softmax of the
outputs' spike counts, ``softmax(temperature * counts / steps)``, a smooth signal in
(0, 1] (``fitness = "log_probability"``: the mean log-probability, the negative
cross-entropy). With ``batch_size`` > 0 each generation uses a random minibatch of that
many training samples, the same for every network; ``input_noise`` > 0 adds Gaussian noise
of that deviation to the standardized training features (seeded by the generation, the
same for every network, clipped to +-3), a data augmentation against overfitting. Metrics: ``accuracy`` (on the samples
used), ``spikes`` (spikes of all neurons per sample) and ``synaptic_events`` (per sample,
each spike counting its neuron's outgoing synapses). ``validate``: accuracy on the
test split (the fitness of a validation is the accuracy).
"""
from __future__ import annotations

import numpy as np

from neurons import NetworkBatch, decoders, encoders, input_events, portable, simulate, simulate_outputs
from neurons.extras import install_hint

from .base import Evaluation, Preset, Task, TaskError, int_option, positive_option, reset_option

FITNESS = ("probability", "log_probability")

__all__ = ["DatasetTask", "Iris", "Wine", "BreastCancer", "Digits", "TemporalPatterns", "load_dataset", "DATASETS", "stratified_split", "stratified_subset"]

DATASETS = {"iris": "load_iris", "wine": "load_wine", "breast-cancer": "load_breast_cancer", "digits": "load_digits"}


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float64 (n, d), y int64 (n,)) of a scikit-learn bundled data set."""
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise TaskError(f"task {name!r} needs scikit-learn: {install_hint('datasets')}") from None
    data = getattr(skd, DATASETS[name])()
    return np.asarray(data.data, np.float64), np.asarray(data.target, np.int64)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices: each class split in the same proportion, seeded; a TaskError
    naming test_fraction where either part would be empty."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    train, test = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    if not train.size or not test.size:
        raise TaskError(f"task option test_fraction: {test_fraction!r} leaves {train.size} training and {test.size} "
                        f"test samples of {len(y)}; expected a fraction that leaves both")
    return train, test


def stratified_subset(y: np.ndarray, k: int, seed: Any) -> np.ndarray:
    """Sorted indices of k samples (all when k is 0 or >= len(y)), each class in proportion
    (largest remainders), drawn with ``np.random.default_rng(seed)``."""
    y = np.asarray(y)
    if not k or k >= y.size:
        return np.arange(y.size)
    classes, counts = np.unique(y, return_counts=True)
    exact = k * counts / y.size
    quota = np.floor(exact).astype(np.int64)
    quota[np.argsort(-(exact - quota), kind="stable")[:k - quota.sum()]] += 1
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(classes, quota)]))


class _Classifier(Task):
    """Shared scoring of spike-count classifiers over (T, B, n_in) inputs.

    Metrics: ``accuracy``, ``spikes`` (spikes of all neurons per sample) and
    ``synaptic_events`` (per sample, each spike counting its neuron's outgoing synapses,
    plus, where the input is spikes (``spike_input``), each input spike its channel's)."""

    n_inputs: int
    n_outputs: int
    options: dict
    spike_input: bool = False  # True where the encoded input is spikes, not currents
    metric_names = ("accuracy", "spikes", "synaptic_events")

    def _score(self, nets: NetworkBatch, x: np.ndarray, y: np.ndarray, soft: bool) -> Evaluation:
        """Accuracy (``soft`` False) or the fitness of the module docstring (``soft`` True)."""
        self.check_networks(nets)
        rec = simulate_outputs(nets, x, self.options["reset"])
        counts = rec.counts.astype(np.float64)                              # (P, B, C)
        guess = decoders.count_then_voltage(counts, rec.v_final)
        accuracy = (guess == y).mean(axis=1)
        spikes = rec.total_spikes.mean(axis=1)
        events = rec.synaptic_events
        if self.spike_input:
            events = events + input_events(nets, x)
        metrics = {"accuracy": accuracy, "spikes": spikes, "synaptic_events": events.mean(axis=1)}
        if not soft:
            return Evaluation(accuracy, metrics)
        z = self.options["temperature"] * counts / x.shape[0]
        z -= z.max(axis=-1, keepdims=True)
        p = portable.exp(z)  # the same bits on every CPU, as np.exp is not
        if self.options.get("fitness", "probability") == "log_probability":
            log_p = np.take_along_axis(z, y[None, :, None], axis=-1)[..., 0] - portable.log(p.sum(axis=-1))
            return Evaluation(log_p.mean(axis=1), metrics)
        p_true = np.take_along_axis(p, y[None, :, None], axis=-1)[..., 0] / p.sum(axis=-1)
        return Evaluation(p_true.mean(axis=1), metrics)

    def _validate_chunks(self, nets: NetworkBatch, labels: np.ndarray, inputs, chunk: int) -> Evaluation:
        """Accuracy on all samples, ``chunk`` at a time (``inputs(rows)`` gives their (T, B,
        n_in) input), so memory stays bounded; every metric the mean over all samples."""
        n = len(labels)
        parts = [(rows.size, self._score(nets, inputs(rows), labels[rows], soft=False))
                 for rows in np.array_split(np.arange(n), -(-n // chunk))]
        return Evaluation(sum(k * ev.fitness for k, ev in parts) / n,
                          {m: sum(k * ev.metrics[m] for k, ev in parts) / n for m in parts[0][1].metrics})

    def record(self, nets: NetworkBatch, seed: int, inputs: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Spikes (T, N) of the first network on the first validation sample; with ``inputs``,
        also its encoded input (T, n_inputs)."""
        x = self._record_input(seed)[:, :1]
        spikes = simulate(nets.select([0]), x, self.options["reset"])[:, 0, 0]
        return (spikes, np.asarray(x[:, 0], np.float32)) if inputs else spikes

    def _batch(self, n: int, seed: int) -> np.ndarray:
        k = self.options.get("batch_size", 0)
        if not k or k >= n:
            return np.arange(n)
        return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


class DatasetTask(_Classifier):
    """A scikit-learn data set as a spiking classification task. Each subclass (``Iris``,
    ``Wine``, ``BreastCancer``, ``Digits``) names its data set (``name``, a key of
    ``DATASETS``) and declares its preset."""

    name: str = ""

    def __init__(self, *, steps: int = 10, encoding: str = "current", fields: int = 5,
                 test_fraction: float = 0.3, split_seed: int = 0, batch_size: int = 0, temperature: float = 2.0,
                 fitness: str = "probability", input_noise: float = 0.0, reset: str = "subtract") -> None:
        dataset = self.name
        if dataset not in DATASETS:
            raise TaskError(f"dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
        if encoding not in ("current", "population"):
            raise TaskError(f"task option encoding: {encoding!r}; expected 'current' or 'population'")
        if not 0 < test_fraction < 1:
            raise TaskError(f"task option test_fraction: {test_fraction}; expected a value in (0, 1)")
        positive_option("temperature", temperature)
        if fitness not in FITNESS:
            raise TaskError(f"task option fitness: {fitness!r}; expected one of {', '.join(FITNESS)}")
        if not (isinstance(input_noise, (int, float)) and 0 <= input_noise < np.inf):
            raise TaskError(f"task option input_noise: {input_noise!r}; expected a number >= 0")
        reset_option(reset)
        self.options = dict(steps=int_option("steps", steps, 1), encoding=encoding,
                            fields=int_option("fields", fields, 2), test_fraction=float(test_fraction),
                            split_seed=int_option("split_seed", split_seed, 0),
                            batch_size=int_option("batch_size", batch_size, 0),
                            temperature=float(temperature), fitness=fitness, input_noise=float(input_noise),
                            reset=reset)
        X, y = load_dataset(dataset)
        train, test = stratified_split(y, test_fraction, split_seed)
        mean, std = X[train].mean(axis=0), X[train].std(axis=0)
        Z = np.clip((X - mean) / np.where(std > 0, std, 1.0), -3.0, 3.0)
        self._z_train = Z[train].astype(np.float32)  # before any population coding (input_noise)
        if encoding == "population":
            Z = encoders.gaussian_fields(Z, -3.0, 3.0, self.options["fields"])
        self._x = {"train": Z[train].astype(np.float32), "test": Z[test].astype(np.float32)}
        self._y = {"train": y[train], "test": y[test]}
        self.n_inputs = Z.shape[1]
        self.n_outputs = int(y.max()) + 1

    def _inputs(self, Z: np.ndarray) -> np.ndarray:
        return np.broadcast_to(Z, (self.options["steps"],) + Z.shape)

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        rows = self._batch(len(self._y["train"]), seed)
        x = self._x["train"][rows]
        if self.options["input_noise"]:  # the same noisy copies for every network of a generation
            rng = np.random.default_rng([seed, 1])
            z = self._z_train[rows] + np.float32(self.options["input_noise"]) * rng.standard_normal(
                self._z_train[rows].shape, dtype=np.float32)
            z = np.clip(z, -3.0, 3.0)
            x = encoders.gaussian_fields(z, -3.0, 3.0, self.options["fields"]).astype(np.float32) \
                if self.options["encoding"] == "population" else z
        return self._score(nets, self._inputs(x), self._y["train"][rows], soft=True)

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        return self._score(nets, self._inputs(self._x["test"]), self._y["test"], soft=False)

    def _record_input(self, seed: int) -> np.ndarray:
        return self._inputs(self._x["test"][:1])


class Iris(DatasetTask):
    """The iris data set (scikit-learn) as a spiking classification task; options as DatasetTask."""
    name, preset = "iris", Preset("cma", 200)


class Wine(DatasetTask):
    """The wine data set (scikit-learn) as a spiking classification task; options as DatasetTask."""
    name, preset = "wine", Preset("cma", 200)


class BreastCancer(DatasetTask):
    """The breast-cancer data set (scikit-learn) as a spiking classification task; options as DatasetTask."""
    name, preset = "breast-cancer", Preset("cma", 100)


class Digits(DatasetTask):
    """The 8x8 digits data set (scikit-learn) as a spiking classification task; options as DatasetTask."""
    name = "digits"
    # OpenAI-ES on a 64 -> 704 -> 10 spiking network (52,810 genes), minibatches of 256, a
    # sharp softmax; diagonal CMA-ES on a spiking linear layer when a user picks cma
    preset = Preset("openes", 320, strategy_options={"population": 256, "sigma0": 0.05, "learning_rate": 0.01,
                                                     "init_std": 0.05},
                    genome={"hidden": [704], "recurrent": False, "evolve": ["weights", "thresholds"]},
                    task={"batch_size": 256, "temperature": 10.0}, run={"checkpoint_every": 10},
                    alternatives={"cma": {"strategy": {"diagonal": True, "population": 64}, "genome": {"hidden": 0},
                                          "task": {"batch_size": 0}}},
                    note="OpenAI-ES on a 64 -> 704 -> 10 spiking network, minibatches of 256, softmax temperature 10")


class GeneratedClassifier(_Classifier):
    """A classifier whose samples are generated: ``sample(per_class, seed)`` gives (input
    (T, B, n_in), labels (B,)). Training draws ``samples`` per class from the generation's
    seed, validation ``validation_samples`` per class from the disjoint range 2^31 + seed."""

    def sample(self, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        x, y = self.sample(self.options["samples"], seed % (2**31))
        return self._score(nets, x, y, soft=True)

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        x, y = self.sample(self.options["validation_samples"], 2**31 + seed % (2**31))
        return self._score(nets, x, y, soft=False)

    def _record_input(self, seed: int) -> np.ndarray:
        return self.sample(1, 2**31 + seed % (2**31))[0]


class TemporalPatterns(GeneratedClassifier):
    """Classes with identical firing rates that differ only in spike timing.

    Each class c has a template: every one of ``channels`` input channels fires exactly
    ``spikes_per_channel`` times within ``steps`` steps, at times drawn per class (seeded by
    ``pattern_seed``). A sample is its class's template with every spike moved by a uniform
    integer jitter in [-``jitter``, ``jitter``] (clipped to the window). Every class thus
    has the same number of spikes on every channel: only timing tells them apart. Training
    uses ``samples`` fresh samples per class each generation (seeded by the generation),
    validation ``validation_samples`` per class from a disjoint seed range.
    """

    name = "temporal-patterns"
    preset = Preset("cma", 300)
    spike_input = True

    def __init__(self, *, channels: int = 8, classes: int = 4, steps: int = 30, spikes_per_channel: int = 2,
                 jitter: int = 1, samples: int = 32, validation_samples: int = 100, pattern_seed: int = 0,
                 temperature: float = 2.0, reset: str = "subtract") -> None:
        positive_option("temperature", temperature)
        self.options = dict(channels=int_option("channels", channels, 1), classes=int_option("classes", classes, 2),
                            steps=int_option("steps", steps, 2),
                            spikes_per_channel=int_option("spikes_per_channel", spikes_per_channel, 1),
                            jitter=int_option("jitter", jitter, 0), samples=int_option("samples", samples, 1),
                            validation_samples=int_option("validation_samples", validation_samples, 1),
                            pattern_seed=int_option("pattern_seed", pattern_seed, 0),
                            temperature=float(temperature), reset=reset)
        if self.options["spikes_per_channel"] > self.options["steps"]:
            raise TaskError(f"task option spikes_per_channel: {spikes_per_channel}; at most steps ({steps})")
        reset_option(reset)
        o = self.options
        rng = np.random.default_rng(o["pattern_seed"])
        # templates[c, ch, k]: the k-th spike time of channel ch in class c
        self.templates = np.stack([np.stack([np.sort(rng.choice(o["steps"], o["spikes_per_channel"], replace=False))
                                             for _ in range(o["channels"])]) for _ in range(o["classes"])])
        self.n_inputs, self.n_outputs = o["channels"], o["classes"]

    def sample(self, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(spikes (T, B, channels) float32, labels (B,)) with B = per_class * classes."""
        o = self.options
        rng = np.random.default_rng(seed)
        y = np.repeat(np.arange(o["classes"]), per_class)
        times = self.templates[y] + rng.integers(-o["jitter"], o["jitter"] + 1, size=(y.size,) + self.templates.shape[1:])
        times = np.clip(times, 0, o["steps"] - 1)
        x = np.zeros((o["steps"], y.size, o["channels"]), np.float32)
        b = np.broadcast_to(np.arange(y.size)[:, None, None], times.shape)
        ch = np.broadcast_to(np.arange(o["channels"])[None, :, None], times.shape)
        x[times.ravel(), b.ravel(), ch.ravel()] = 1.0  # spikes that jitter onto one step merge
        return x, y
