"""Spiking XOR, the NEAT paper's first benchmark, as spike trains.

Encoding (rate coding with a bias input): each of the four cases is a batch sample of
``steps`` LIF steps over three input channels (a, b, bias). A 1 spikes at every step with
probability ``rate`` (the default 1.0 gives a regular train, one spike per step), a 0 never
spikes, and the bias channel is always 1. The network's single output neuron answers with
its firing rate ``y = spikes / steps`` in [0, 1].

Fitness, as in the NEAT paper: ``4 - sum over the four cases of (y - target)^2``, in [0, 4].
A case is classified correctly when ``y > 0.5`` for target 1 and ``y < 0.5`` for target 0
(exactly half is wrong either way); the network solves XOR when all four are correct.
Metrics: ``correct`` (cases right, 0..4) and ``spikes`` (spikes of all neurons per case).
"""
from __future__ import annotations

import numpy as np

from neurons import NetworkBatch, encoders, simulate, simulate_outputs

from .base import Evaluation, Preset, Task, TaskError, int_option, reset_option

__all__ = ["XOR"]

CASES = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
TARGETS = np.array([0, 1, 1, 0], np.float64)


class XOR(Task):
    """XOR of two spike trains; fitness 4 - summed squared error of the output firing rate."""

    name = "xor"
    preset = Preset("neat", 300, note="NEAT from a minimal topology, as in the NEAT paper")
    n_inputs = 3
    n_outputs = 1
    target = 4.0
    metric_names = ("correct", "spikes")

    def __init__(self, *, steps: int = 10, rate: float = 1.0, reset: str = "subtract") -> None:
        steps = int_option("steps", steps)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate <= 1:
            raise TaskError(f"task option rate: {rate!r}; expected a number in (0, 1]")
        reset_option(reset)
        self.options = dict(steps=int(steps), rate=float(rate), reset=reset)
        values = np.concatenate([CASES, np.ones((4, 1))], axis=1)  # (B=4, 3)
        self._values = values

    def inputs(self, seed: int) -> np.ndarray:
        """The input spikes (steps, 4, 3); deterministic when ``rate`` is 1."""
        return encoders.rate(self._values, self.options["steps"], seed, self.options["rate"])

    def _score(self, nets: NetworkBatch, seed: int) -> Evaluation:
        self.check_networks(nets)
        rec = simulate_outputs(nets, self.inputs(seed), self.options["reset"])
        y = rec.counts[..., 0].astype(np.float64) / self.options["steps"]  # (P, 4)
        fitness = 4.0 - ((y - TARGETS) ** 2).sum(axis=1)
        correct = (np.where(TARGETS == 1, y > 0.5, y < 0.5)).sum(axis=1)
        return Evaluation(fitness, {"correct": correct, "spikes": rec.total_spikes.mean(axis=1)})

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        return self._score(nets, seed)

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        """The same four cases (XOR has no held-out data); with ``rate`` < 1, fresh spike trains."""
        return self._score(nets, seed)

    def record(self, nets: NetworkBatch, seed: int, inputs: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Spikes (T, N) of the first network on case (1, 0); with ``inputs``, also the input
        spikes (T, 3)."""
        x = self.inputs(seed)[:, 2:3]
        spikes = simulate(nets.select([0]), x, self.options["reset"])[:, 0, 0]
        return (spikes, x[:, 0]) if inputs else spikes

    def solved(self, ev: Evaluation) -> np.ndarray:
        """(P,) bool: all four cases classified correctly."""
        return ev.metrics["correct"] == 4
