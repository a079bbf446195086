"""Populations described by seeds: a Gaussian strategy's generation without its P x D matrix.

A generation of a Gaussian strategy (``openes``, ``pgpe``, ``snes``) is the search center,
its deviation (one number or one per gene), and one offset per noise vector into a shared
noise table::

    noise(j) = table[offset[j] : offset[j] + D]            (float32, N(0, 1))
    genome i = center + sign(i) * sigma * noise(j(i))

With mirrored sampling, genomes 2j and 2j+1 share noise vector j with signs +1 and -1;
without it genome i uses noise vector i with sign +1. The table is a function of
``(table_seed, table_size)`` only: every process (the driver, each Ray worker) makes the
same table once, from its seed, so no noise ever travels; a generation is 4D bytes of
center, 4D of deviation (when it is per gene) and 8 bytes per noise vector.

Why a table and not a counter-based generator per genome: regenerating a genome's D
normals costs about 6 ns each (``evospike bench scale`` prints the measurement), while a
table slice is a view; a strategy's update ``sum_j w_j noise(j)`` then reads P/2 slices
instead of drawing P/2 x D numbers. Slices at different offsets of an i.i.d. table are
independent numbers; only equal offsets (drawn with probability about M^2 / table size)
repeat a vector.

Genomes are materialized only where they are evaluated, a chunk at a time
(:meth:`SeededPopulation.take`), and strategies form their updates straight from the
table (:func:`weighted_noise_sums`), so no process holds P x D numbers at once.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from ..errors import GenomeError

__all__ = ["NoiseTable", "SeededPopulation", "noise_table", "weighted_noise_sum", "weighted_noise_sums",
           "table_size_for"]

_MIN_TABLE, _MAX_TABLE = 1 << 22, 1 << 26


def table_size_for(dim: int) -> int:
    """The default table size for genomes of ``dim`` genes: 32 dim rounded up to a power of
    two, between 2^22 (16 MiB) and 2^26 (256 MiB) float32 numbers, and at least dim + 2^20."""
    want = max(_MIN_TABLE, 32 * int(dim))
    size = 1 << int(np.ceil(np.log2(want)))
    return max(min(size, _MAX_TABLE), int(dim) + (1 << 20))


class NoiseTable:
    """``size`` float32 standard normal numbers made from ``seed`` (numpy's PCG64 seeded by
    SeedSequence([seed, size])); ``windows(D)[k]`` is the vector at offset k."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed, self.size = int(seed), int(size)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.size])))
        self.values = rng.standard_normal(self.size, dtype=np.float32)
        self.values.flags.writeable = False

    def windows(self, dim: int) -> np.ndarray:
        """A read-only (size - dim + 1, dim) view: row k is the noise vector at offset k."""
        return np.lib.stride_tricks.sliding_window_view(self.values, int(dim))


_tables: dict[tuple[int, int], NoiseTable] = {}


def noise_table(seed: int, size: int) -> NoiseTable:
    """This process's table for (seed, size), made on first use and kept (the last two)."""
    key = (int(seed), int(size))
    table = _tables.get(key)
    if table is None:
        if len(_tables) >= 2:
            _tables.pop(next(iter(_tables)))
        table = _tables[key] = NoiseTable(*key)
    return table


def _sums_loop(values, offsets, w1, w2, dim, out1, out2, both):
    """``out1 += sum_j w1[j] noise(j)`` and (``both``) ``out2 += sum_j w2[j] noise(j)^2``, in
    float64, for each gene in increasing j; blocked over genes so ``out`` stays in cache."""
    block = 4096
    for d0 in range(0, dim, block):
        n = min(dim, d0 + block) - d0
        for j in range(offsets.size):
            o = offsets[j] + d0
            a = w1[j]
            if both:
                b = w2[j]
                for d in range(n):
                    x = np.float64(values[o + d])
                    out1[d0 + d] += a * x
                    out2[d0 + d] += b * (x * x)
            else:
                for d in range(n):
                    out1[d0 + d] += a * np.float64(values[o + d])


_compiled = None


def _sums_kernel():
    """:func:`_sums_loop` compiled with numba (cached on disk), or None without numba."""
    global _compiled
    if _compiled is None:
        if importlib.util.find_spec("numba") is None:
            _compiled = False
        else:
            import numba
            _compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(_sums_loop)
    return _compiled or None


def weighted_noise_sums(table: NoiseTable, offsets: np.ndarray, weights: np.ndarray, dim: int,
                        square_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(sum_j weights[j] noise(j), sum_j square_weights[j] noise(j)^2)`` as float64 (dim,)
    arrays (the second None without ``square_weights``), in one pass over the noise.

    Each gene's sum runs over j in increasing order in float64, in compiled code when numba
    is installed (no copy of the noise) and otherwise one noise vector at a time in numpy;
    the two give the same bits."""
    offsets = np.ascontiguousarray(offsets, np.int64)
    w1 = np.ascontiguousarray(weights, np.float64)
    both = square_weights is not None
    w2 = np.ascontiguousarray(square_weights if both else np.zeros(0), np.float64)
    out1 = np.zeros(int(dim), np.float64)
    out2 = np.zeros(int(dim) if both else 0, np.float64)
    kernel = _sums_kernel()
    if kernel is not None:
        kernel(table.values, offsets, w1, w2, int(dim), out1, out2, both)
        return out1, (out2 if both else None)
    win = table.windows(dim)
    tmp = np.empty(int(dim), np.float64)
    for j in range(offsets.size):
        noise = win[offsets[j]]
        np.multiply(noise, w1[j], out=tmp, dtype=np.float64)
        out1 += tmp
        if both:
            np.square(noise, out=tmp, dtype=np.float64)
            tmp *= w2[j]
            out2 += tmp
    return out1, (out2 if both else None)


def weighted_noise_sum(table: NoiseTable, offsets: np.ndarray, weights: np.ndarray, dim: int,
                       square: bool = False) -> np.ndarray:
    """``sum_j weights[j] * noise(j)`` (or ``* noise(j) ** 2`` with ``square``), float64 (dim,)."""
    if square:
        return weighted_noise_sums(table, offsets, np.zeros(len(offsets)), dim, weights)[1]
    return weighted_noise_sums(table, offsets, weights, dim)[0]


@dataclass(frozen=True, eq=False)
class SeededPopulation:
    """P genomes of D genes as (center, sigma, noise offsets): see the module docstring.

    ``center``: (D,) float32; ``sigma``: (D,) or () float32; ``offsets``: (M,) int64 with
    M = P / 2 (``mirrored``) or P; ``table_seed``, ``table_size``: the noise table;
    ``generation``: the generation it belongs to (a check for ``tell``).
    """

    center: np.ndarray
    sigma: np.ndarray
    offsets: np.ndarray
    mirrored: bool
    table_seed: int
    table_size: int
    generation: int = 0

    def __post_init__(self) -> None:
        D = self.center.shape[0] if self.center.ndim == 1 else -1
        if self.center.ndim != 1 or self.sigma.shape not in ((), (D,)):
            raise GenomeError(f"seeded population: center shape {self.center.shape}, sigma shape "
                              f"{self.sigma.shape}; expected (D,) and () or (D,)")
        if self.offsets.ndim != 1 or (self.offsets.size and (self.offsets.min() < 0 or
                                                             self.offsets.max() > self.table_size - D)):
            raise GenomeError(f"seeded population: noise offsets outside the table of {self.table_size} numbers "
                              f"for genomes of {D} genes")

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    def __len__(self) -> int:
        return int(self.offsets.size * (2 if self.mirrored else 1))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.dim)

    def noise_index(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(noise vector, sign) of each genome in ``rows``."""
        rows = np.asarray(rows, np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"genome index out of range for a population of {len(self)}")
        if self.mirrored:
            return rows // 2, np.where(rows % 2 == 0, 1.0, -1.0).astype(np.float32)
        return rows, np.ones(rows.size, np.float32)

    def take(self, rows, dtype: type = np.float64) -> np.ndarray:
        """Genomes ``rows`` as a (len(rows), D) float64 matrix (float32 arithmetic, exact in
        float64; ``dtype=np.float32``: the float32 values themselves), the same in every process."""
        j, sign = self.noise_index(np.atleast_1d(rows))
        noise = noise_table(self.table_seed, self.table_size).windows(self.dim)[self.offsets[j]]  # (k, D) copy
        noise *= sign[:, None]
        noise *= self.sigma
        noise += self.center
        return noise.astype(dtype, copy=False)

    def row(self, i: int) -> np.ndarray:
        """Genome ``i`` (D,) float64."""
        return self.take([int(i)])[0]

    def nbytes(self) -> int:
        """Bytes of the description (what travels to each process once per generation)."""
        return int(self.center.nbytes + self.sigma.nbytes + self.offsets.nbytes)
