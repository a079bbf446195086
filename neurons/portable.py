"""``exp``, ``log`` and ``tanh`` of float64 in IEEE basic arithmetic: the same bits on every CPU.

numpy picks its float64 ``exp`` and ``log`` by the CPU it runs on (its own AVX-512
code where the CPU has AVX-512F, the C library's elsewhere), and the two differ in the last
bit for some inputs. A fitness computed with them then depends on the machine: a run's
results would not be a function of its config and seed alone. These use only ``+``,
``-``, ``*``, ``/``, ``rint``, ``frexp`` and ``ldexp``, each correctly rounded by IEEE 754 and
never fused by numpy or numba, so every machine gives the same bits. ``exp`` and ``log``
are within 1 ulp of the exact values, ``tanh`` within 3 (``tests/test_portable.py``
measures them against numpy). ``exp1`` and ``tanh1`` are the same operations on one float,
for numba kernels (the compiled rollouts): they give the array functions' bits.

    exp(x) = 2**k * exp(r),  k = rint(x / ln 2),  r = x - k ln 2 (two parts), |r| <= ln(2) / 2,
             exp(r) by its Taylor series to r**13 / 13!  (the next term below 4e-18)
    log(x) = k ln 2 + log(1 + f),  x = (1 + f) 2**k with 1 + f in [sqrt(1/2), sqrt(2)),
             log(1 + f) = f - (f*f/2 - s (f*f/2 + R(s*s))),  s = f / (2 + f),  R fdlibm's polynomial
    tanh(x) = sign(x) * -m / (2 + m),  m = expm1(-2 |x|)  (1 for |x| > 22),
             expm1(y) by its Taylor series to y**14 / 14! for |y| < ln(2) / 2, else exp(y) - 1

Example::

    >>> portable.exp(np.array([0.0, -1.0]))   # float64 (...), the shape of the input
    array([1.        , 0.36787944])
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["exp", "log", "tanh", "exp1", "tanh1"]

_LN2_HI = 6.93147180369123816490e-01  # ln 2 in 32 bits (fdlibm's ln2_hi): k * _LN2_HI is exact for |k| < 2**20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e+00
_EXP_TERMS = tuple(1.0 / math.factorial(n) for n in range(15))  # 1 / n!, n = 0..14 (exact to the float64 rounding)
_EXP_HORNER = _EXP_TERMS[12::-1]                      # exp's, after 1 / 13!
_EXPM1_HORNER = _EXP_TERMS[13:0:-1]                   # expm1's, after 1 / 14!: 1 / 13!, ..., 1 / 1!
_HALF_LN2 = 0.34657359027997264
_SQRT_HALF = 0.70710678118654757274
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)  # fdlibm's log: 2 atanh(s) / s - 2


def exp(x: np.ndarray) -> np.ndarray:
    """e ** x, float64, elementwise (0.0 below -745.2, inf above 709.8, NaN for NaN)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        xc = np.clip(x, -746.0, 710.0)
        k = np.rint(xc * _INV_LN2)
        r = (xc - k * _LN2_HI) - k * _LN2_LO
        p = np.full(r.shape, _EXP_TERMS[13])
        for c in _EXP_HORNER:                             # Horner, highest power first
            p = p * r + c
        out = np.ldexp(p, k.astype(np.int64))
    return np.where(np.isnan(x), x, out)


def log(x: np.ndarray) -> np.ndarray:
    """The natural logarithm, float64, elementwise (-inf at 0, NaN below 0, inf at inf)."""
    x = np.asarray(x, dtype=np.float64)
    ok = (x > 0) & np.isfinite(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        m, e = np.frexp(np.where(ok, x, 1.0))             # x = m 2**e, m in [0.5, 1)
        low = m < _SQRT_HALF
        m = np.where(low, 2.0 * m, m)                     # m in [sqrt(1/2), sqrt(2))
        k = np.where(low, e - 1, e).astype(np.float64)
        f = m - 1.0                                       # exact for m in [0.5, 2]
        s = f / (2.0 + f)
        z = s * s
        r = np.full(z.shape, _LG[-1])
        for c in _LG[-2::-1]:
            r = r * z + c
        r = r * z
        hfsq = 0.5 * f * f
        out = k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)
        special = np.log(np.where(ok, 1.0, x))            # -inf, NaN, inf: no rounding involved
    return np.where(ok, out, special)


def _expm1(y: np.ndarray) -> np.ndarray:
    """e ** y - 1 for float64 y <= 0 (tanh's argument), without cancellation near 0."""
    p = np.full(y.shape, _EXP_TERMS[14])
    for c in _EXPM1_HORNER:
        p = p * y + c
    return np.where(np.abs(y) < _HALF_LN2, p * y, exp(y) - 1.0)


def tanh(x: np.ndarray) -> np.ndarray:
    """The hyperbolic tangent, float64, elementwise (NaN for NaN)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        m = _expm1(-2.0 * np.minimum(a, 22.0))
        t = np.where(a > 22.0, 1.0, -m / (2.0 + m))
    return np.where(np.isnan(x), x, np.copysign(t, x))


def exp1(x: float) -> float:
    """:func:`exp` of one float64, the same operations in the same order (numba-compilable)."""
    if x != x:
        return x
    xc = min(max(x, -746.0), 710.0)
    k = np.rint(xc * _INV_LN2)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = _EXP_TERMS[13]
    for c in _EXP_HORNER:
        p = p * r + c
    return math.ldexp(p, int(k))


def tanh1(x: float) -> float:
    """:func:`tanh` of one float64, the same operations in the same order (numba-compilable)."""
    if x != x:
        return x
    a = abs(x)
    if a > 22.0:
        return math.copysign(1.0, x)
    y = -2.0 * a
    if abs(y) < _HALF_LN2:
        p = _EXP_TERMS[14]
        for c in _EXPM1_HORNER:
            p = p * y + c
        m = p * y
    else:                                                 # exp1(y) - 1, written out: a numba kernel
        k = np.rint(y * _INV_LN2)                         # calls no Python function (y >= -44: no clip)
        r = (y - k * _LN2_HI) - k * _LN2_LO
        p = _EXP_TERMS[13]
        for c in _EXP_HORNER:
            p = p * r + c
        m = math.ldexp(p, int(k)) - 1.0
    return math.copysign(-m / (2.0 + m), x)
