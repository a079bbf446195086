"""``intervals``: classes that differ only in the intervals between input spikes.

Each sample is a short train of ``pulses`` spikes (default 2) on every one of ``channels``
input channels (copies of one train). The intervals between consecutive spikes are integers
in [``min_interval``, ``max_interval``] (default 5 to 40 steps); that range is split into
``classes`` contiguous bins, as equal as integers allow (default 4 bins of 9 intervals:
5-13, 14-22, 23-31, 32-40), and a sample of class c draws each of its intervals uniformly
from bin c. The first spike comes at a uniform step in [0, ``jitter``], and ``readout``
steps follow the latest possible last spike, so the window is ``steps = jitter +
(pulses - 1) * max_interval + 1 + readout`` (default 71).

Every sample has the same number of spikes on the same channels, and the first spike's
onset has the same distribution in every class: only the intervals tell the classes
apart. A network with no bias input has no clock of its own (it stays at rest until the
first spike), so the window's end is its only absolute time reference, and the onset
jitter blurs it: the steps from the last spike to the end vary by ``jitter`` within a
class. ``noise`` > 0 adds distractor spikes, each step and channel independently with
that probability, in every class alike (default 0: none).

Why it needs memory beyond a membrane: a plain LIF neuron keeps a fraction ``beta ** d``
of an input d steps old. At the genome's default ``beta = 0.9`` (the ``fixed`` genome maps
a beta gene g to ``sigmoid(logit(0.9) + g)``; the preset does not evolve betas) that is
0.59 after 5 steps, 0.12 after 20, 0.036 after 32 and 0.015 after 40. A LIF coincidence
detector (input weight w, threshold between w and 2w) fires at the second spike exactly
when ``1 + beta ** d`` reaches threshold / w, so telling a 31-step interval from a 32-step
one means setting that ratio to within 0.4% (between 1.034 and 1.038). Such a network
exists (one detector per bin boundary), and a recurrent network has more memory than one
membrane (one plain-LIF seed of the preset's five scores 1.0), but the preset's searches
with plain LIF neurons mostly settle at 0.75 or below. Synaptic delays (a coincidence of the
delayed first spike with the second) or a slow adaptive threshold hold the interval with
wide margins.

Readout and fitness as the other classifiers (``_Classifier``): one output neuron per class,
spike counts over the whole window, the answer is the output with the most spikes (ties:
the higher final membrane potential). Training fitness is the mean softmax probability of
the true class, ``softmax(temperature * counts / steps)`` (``fitness = "log_probability"``:
its mean log); the default temperature 100 makes one spike worth 1.4 in the softmax over the
71-step window. Training uses ``samples`` fresh samples per class each generation (seeded by
the generation), validation ``validation_samples`` per class from a disjoint seed range (its
fitness is the accuracy).
"""
from __future__ import annotations

import numpy as np

from .base import Preset, TaskError, int_option, reset_option
from .classification import FITNESS, GeneratedClassifier

__all__ = ["Intervals", "interval_bins"]


def interval_bins(min_interval: int, max_interval: int, classes: int) -> np.ndarray:
    """Bin edges (classes + 1,) int64: class c has the intervals edges[c] <= d < edges[c + 1]."""
    n = max_interval - min_interval + 1
    return min_interval + np.round(np.linspace(0, n, classes + 1)).astype(np.int64)


class Intervals(GeneratedClassifier):
    """Classify spike trains by the interval between their spikes (see the module docstring)."""

    name = "intervals"
    # CMA-ES on 1 -> 16 (recurrent) -> 4 LIF neurons with thresholds fixed at 1 and betas at
    # 0.9: only the weights evolve (and the genes of the model or delays a run adds). With
    # thresholds evolved, output neurons went silent (an output threshold of 9.3 in one examined
    # network) and searches settled at 0.75, one class never answered. A fresh start (same
    # population, new seed) once the best fitness has not risen for 50 generations; 3,000
    # generations, about 11 searches (tasks/README.md "Intervals")
    preset = Preset("cma", 3000, genome={"hidden": 16, "evolve": ["weights"]},
                    strategy_options={"restarts": 20, "stall": 50, "incpopsize": 1.0},
                    run={"checkpoint_every": 50},
                    note="CMA-ES with restarts on a 16-neuron recurrent LIF layer, weights evolved, thresholds "
                         "fixed at 1 and betas at 0.9: a membrane alone cannot hold the longer intervals")
    spike_input = True

    def __init__(self, *, classes: int = 4, min_interval: int = 5, max_interval: int = 40, pulses: int = 2,
                 channels: int = 1, jitter: int = 20, readout: int = 10, noise: float = 0.0, samples: int = 32,
                 validation_samples: int = 100, temperature: float = 100.0, fitness: str = "probability",
                 reset: str = "subtract") -> None:
        o = dict(classes=int_option("classes", classes, 2), min_interval=int_option("min_interval", min_interval, 1),
                 max_interval=int_option("max_interval", max_interval, 1), pulses=int_option("pulses", pulses, 2),
                 channels=int_option("channels", channels, 1), jitter=int_option("jitter", jitter, 0),
                 readout=int_option("readout", readout, 0))
        if o["max_interval"] - o["min_interval"] + 1 < o["classes"]:
            raise TaskError(f"task option max_interval: {max_interval}; expected an integer >= min_interval + "
                            f"classes - 1 ({o['min_interval'] + o['classes'] - 1}), one interval per class at least")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1:
            raise TaskError(f"task option noise: {noise!r}; expected a probability in [0, 1)")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < np.inf:
            raise TaskError(f"task option temperature: {temperature!r}; expected a number > 0")
        if fitness not in FITNESS:
            raise TaskError(f"task option fitness: {fitness!r}; expected one of {', '.join(FITNESS)}")
        self.options = dict(o, noise=float(noise), samples=int_option("samples", samples, 1),
                            validation_samples=int_option("validation_samples", validation_samples, 1),
                            temperature=float(temperature), fitness=fitness, reset=reset_option(reset))
        self.bins = interval_bins(o["min_interval"], o["max_interval"], o["classes"])
        self.steps = o["jitter"] + (o["pulses"] - 1) * o["max_interval"] + 1 + o["readout"]
        self.n_inputs, self.n_outputs = o["channels"], o["classes"]

    def spike_times(self, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(times (B, pulses) int64, labels (B,)) with B = per_class * classes: each sample's
        spike steps, the first at its onset, then each interval drawn from its class's bin."""
        o = self.options
        rng = np.random.default_rng(seed)
        y = np.repeat(np.arange(o["classes"]), per_class)
        gaps = rng.integers(self.bins[y][:, None], self.bins[y + 1][:, None], size=(y.size, o["pulses"] - 1))
        onset = rng.integers(0, o["jitter"] + 1, size=y.size)
        times = onset[:, None] + np.concatenate([np.zeros((y.size, 1), np.int64), np.cumsum(gaps, axis=1)], axis=1)
        return times, y

    def sample(self, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(spikes (T, B, channels) float32, labels (B,)) with B = per_class * classes."""
        o = self.options
        times, y = self.spike_times(per_class, seed)
        x = np.zeros((self.steps, y.size, o["channels"]), np.float32)
        x[times, np.arange(y.size)[:, None]] = 1.0  # every channel carries the train
        if o["noise"]:  # drawn after the train, so a sample's train does not depend on the noise
            rng = np.random.default_rng([seed, 1])
            x[rng.random(x.shape, dtype=np.float32) < o["noise"]] = 1.0
        return x, y
