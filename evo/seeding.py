"""Every random stream of a run comes from its seed through ``numpy.random.SeedSequence``.

Two key forms, both fixed forever (changing one changes every run's results):

- run streams: ``SeedSequence(seed, spawn_key=(generation, PURPOSES[purpose]))``, through
  :func:`derive_seed` and :func:`rng`;
- a strategy's own streams: ``SeedSequence(strategy_seed, spawn_key=key)`` through
  :func:`stream` and :func:`stream_words` (GA, NSGA-II and NEAT use key (0,) for the first
  population and (g + 1,) for generation g), and ``SeedSequence([strategy_seed, k])``
  through :func:`entropy_seed` (CMA-ES restart k).
"""
from __future__ import annotations

import numpy as np

__all__ = ["PURPOSES", "seed_sequence", "derive_seed", "rng", "stream", "stream_words", "entropy_seed",
           "validation_seed"]

PURPOSES = {"strategy": 0, "evaluate": 1, "validate": 2, "init": 3}


def seed_sequence(seed: int, generation: int, purpose: str) -> np.random.SeedSequence:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(generation), PURPOSES[purpose]))


def derive_seed(seed: int, generation: int, purpose: str) -> int:
    """A 32-bit integer seed for (seed, generation, purpose)."""
    return int(seed_sequence(seed, generation, purpose).generate_state(1)[0])


def rng(seed: int, generation: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(seed, generation, purpose))


def validation_seed(seed: int) -> int:
    """The seed of a run's validation episodes: fixed for the run, so scores compare across generations."""
    return derive_seed(seed, 0, "validate")


def stream(seed: int, *key: int) -> np.random.Generator:
    """A generator for ``SeedSequence(seed, spawn_key=key)``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))


def stream_words(seed: int, *key: int, words: int = 1) -> np.ndarray:
    """``words`` uint32 words of ``SeedSequence(seed, spawn_key=key)``."""
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)).generate_state(words)


def entropy_seed(*entropy: int) -> int:
    """A 32-bit seed from ``SeedSequence([e0, e1, ...])``."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0])
