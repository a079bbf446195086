"""Every random stream of a run comes from (seed, generation, purpose) through SeedSequence."""
from __future__ import annotations

import numpy as np

__all__ = ["PURPOSES", "seed_sequence", "derive_seed", "rng"]

# Stable codes: changing one changes every run's results.
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
