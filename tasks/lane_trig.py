"""``sin`` and ``cos`` of many float64 values at once, in numba, with the C library's bits.

A rollout's physics call ``sin`` and ``cos`` of every lane's angles each step, and the C
library computes one value per call: for the acrobot that was most of a compiled rollout's
time. :func:`sincos_lanes` computes a whole array in one loop that LLVM vectorizes, with the
algorithm of GNU libc's ``sin`` and ``cos`` (``sysdeps/ieee754/dbl-64/s_sin.c``, since glibc
2.28; on x86-64 built with fused multiply-adds where its ``__sin_fma``/``__cos_fma`` contract
them), step for step:

- |x| < 0.855469: ``do_sin(x, 0)``, ``do_cos(x, 0)``;
- |x| < 2.426265: the distance to pi/2 in two parts, then ``do_cos`` gives the sine and
  ``do_sin`` the cosine;
- |x| < 105414350: ``reduce_sincos`` (x - n pi/2 in two doubles, pi/2 in four parts), then
  ``do_sin`` or ``do_cos`` by the quadrant n;

where ``do_sin``/``do_cos`` take a row of a table of sin and cos at multiples of 1/128 (each
as two doubles) and short polynomials, or for small arguments a Taylor polynomial. Every
branch is computed and the result selected, so the loop has no branch and vectorizes; the
row is read once per value (a vector gather costs about as much as the arithmetic), and the
rare values whose do_sin and do_cos would read different rows go to the library. So do
values below 2^-26, of 105414350 and more, and values that are not finite, in a second loop
over just those entries. Here (AMD Zen 5) a sine and cosine together cost 3.9 ns for 48
values, against 10 ns for the library's pair and 8 ns for its cosine alone.

The table here is computed from decimal Taylor series: it can differ from glibc's in the
last bit of a low part (about 2^-105 of the entry), which could change a result only where
it lies within about 2^-56 of a rounding boundary; 400 million random values across the
ranges gave the library's bits every time. :func:`library_agrees` compares the two on a
fixed spread of values; the rollouts use :func:`sincos_lanes` only where it does: another
C library (or glibc without FMA) computes other bits, and there the rollouts call the
library. :func:`sincos_near_lanes` is the first range alone, for arguments that mostly
stay below 0.855469 (CartPole's poles; the library takes the rest): the same bits from
less code to compile, checked by :func:`near_agrees`. Imported only where numba is
installed.
"""
from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = ["sincos_lanes", "trig_lanes", "library_agrees", "sincos_near_lanes", "trig_near_lanes", "near_agrees"]

_inline = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
_jit = numba.njit(cache=True, nogil=True, boundscheck=False)

_h = float.fromhex
# s_sin.c's and usncs.h's constants
_S1, _S2, _S3 = _h("-0x1.5555555555555p-3"), _h("0x1.1111111110ECEp-7"), _h("-0x1.A01A019DB08B8p-13")
_S4, _S5 = _h("0x1.71DE27B9A7ED9p-19"), _h("-0x1.ADDFFC2FCDF59p-26")
_SN3, _SN5 = -1.66666666666664880952546298448555E-01, 8.33333214285722277379541354343671E-03
_CS2, _CS4 = 4.99999999999999999999950396842453E-01, -4.16666666666664434524222570944589E-02
_CS6 = 1.38888874007937613028114285595617E-03
_BIG, _TOINT = _h("0x1.8p45"), _h("0x1.8p52")
_HP0, _HP1 = _h("0x1.921FB54442D18p0"), _h("0x1.1A62633145C07p-54")
_MP1, _MP2 = _h("0x1.921FB58000000p0"), _h("-0x1.DDE973C000000p-27")
_PP3, _PP4 = _h("-0x1.CB3B398000000p-55"), _h("-0x1.d747f23e32ed7p-83")
_HPINV = _h("0x1.45F306DC9C883p-1")
# the ranges, as s_sin.c tests the high word of |x|
_TINY = _h("0x1p-26")                 # 0x3e500000: sin x = x below; the library decides
_NEAR = _h("0x1.b6p-1")               # 0x3feb6000: 0.85546875
_MID = _h("0x1.368fdp+1")             # 0x400368fd: 2.426265...
_FAR = _h("0x1.921fbp+26")            # 0x419921fb: 105414350...
_TAYLOR = 0.126                       # do_sin's Taylor polynomial below
ENTRIES = 110                         # sin and cos of k/128, k = 0..109 (|x| < 0.855469 rounds below 110)


def _sin_cos_decimal(a: Decimal) -> tuple[Decimal, Decimal]:
    s = c = Decimal(0)
    term = Decimal(1)
    for n in range(60):                # a < 0.86: the terms fall below 10^-70 long before
        if n % 2 == 0:
            c += term if n % 4 == 0 else -term
        else:
            s += term if n % 4 == 1 else -term
        term = term * a / (n + 1)
    return s, c


def _table() -> tuple[np.ndarray, ...]:
    """sin(k/128) = sn + ssn and cos(k/128) = cs + ccs: four arrays of ENTRIES doubles."""
    out = np.zeros((4, ENTRIES))
    with localcontext() as ctx:
        ctx.prec = 60
        for k in range(ENTRIES):
            s, c = _sin_cos_decimal(Decimal(k) / 128)
            sh, ch = float(s), float(c)
            out[:, k] = sh, float(s - Decimal(sh)), ch, float(c - Decimal(ch))
    return tuple(np.ascontiguousarray(row) for row in out)


_SN, _SSN, _CS, _CCS = _table()


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma.f64)."""
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)
    return types.float64(a, b, c), codegen


@_inline
def _row(x):
    """do_sin's and do_cos's table row for x: round(|x| * 128), as s_sin.c's u = big + |x|."""
    ax = abs(x)
    return min(max(np.int64((_BIG + ax - _BIG) * 128.0), 0), ENTRIES - 1)


@_inline
def _do_sin_t(x, dx, sn, ssn, cs, ccs):
    """s_sin.c's do_sin (x + dx, |x| < 0.855469), both of its branches computed, with the
    table row's values given."""
    xx0 = x * x
    poly = _fma(xx0, _fma(xx0, _fma(xx0, _fma(xx0, _S5, _S4), _S3), _S2), _S1)
    taylor = x + _fma(_fma(poly, x, -(0.5 * dx)), xx0, dx)
    d = -dx if x <= 0.0 else dx
    ax = abs(x)
    u = _BIG + ax
    xr = ax - (u - _BIG)
    xx = xr * xr
    s = xr + _fma(xr * xx, _fma(xx, _SN5, _SN3), d)
    c = _fma(xr, d, xx * _fma(xx, _fma(xx, _CS6, _CS4), _CS2))
    cor = _fma(s, cs, _fma(-c, sn, _fma(s, ccs, ssn)))
    table = math.copysign(sn + cor, x)
    return taylor if ax < _TAYLOR else table


@_inline
def _do_cos_t(x, dx, sn, ssn, cs, ccs):
    """s_sin.c's do_cos (x + dx, |x| < 0.855469), with the table row's values given."""
    d = -dx if x < 0.0 else dx
    ax = abs(x)
    u = _BIG + ax
    xr = (ax - (u - _BIG)) + d
    xx = xr * xr
    s = _fma(xr * xx, _fma(xx, _SN5, _SN3), xr)
    c = xx * _fma(xx, _fma(xx, _CS6, _CS4), _CS2)
    cor = _fma(-s, sn, _fma(-c, cs, _fma(-s, ssn, ccs)))
    return cs + cor


@_inline
def _arguments(x):
    """do_sin's and do_cos's arguments for sin x and cos x, and the quadrant:
    (sx, sdx, cx, cdx, n)."""
    ax = abs(x)
    near, mid = ax < _NEAR, ax < _MID
    # 0.855469 <= |x| < 2.426265: sin x = copysign(do_cos(y, hp1), x), cos x = do_sin(a, da)
    y = _HP0 - ax
    a2 = y + _HP1
    da2 = (y - a2) + _HP1
    # reduce_sincos: x = n pi/2 + (b + db)
    xf = x if ax < _FAR else 0.0                              # finite, in range: no overflow below
    t = _fma(xf, _HPINV, _TOINT)
    xn = t - _TOINT
    yr = _fma(xn, -_MP2, _fma(-xn, _MP1, xf))
    t2 = _fma(-xn, _PP3, yr)
    db = _fma(-xn, _PP3, yr - t2)
    b = _fma(-xn, _PP4, t2)
    db = db + _fma(-xn, _PP4, t2 - b)
    n = xn - 4.0 * np.floor(xn * 0.25)                        # xn mod 4
    sx = x if near else (a2 if mid else b)                    # do_sin's argument
    sdx = 0.0 if near else (da2 if mid else db)
    cx = x if near else (y if mid else b)                     # do_cos's
    cdx = 0.0 if near else (_HP1 if mid else db)
    return sx, sdx, cx, cdx, n


@_inline
def _results(x, S, C, n):
    """(sin x, cos x, 1.0 where the library must compute them, else 0.0) from do_sin's and
    do_cos's values."""
    ax = abs(x)
    near, mid = ax < _NEAR, ax < _MID
    odd = (n == 1.0) | (n == 3.0)
    far_sin = C if odd else S                                 # do_sincos(b, db, n)
    far_sin = -far_sin if n >= 2.0 else far_sin
    far_cos = S if odd else C                                 # do_sincos(b, db, n + 1)
    far_cos = -far_cos if (n == 1.0) | (n == 2.0) else far_cos
    sin_x = S if near else (math.copysign(C, x) if mid else far_sin)
    cos_x = C if near else (S if mid else far_cos)
    return sin_x, cos_x, 0.0 if (ax >= _TINY) & (ax < _FAR) else 1.0


@_inline
def _sin_cos(x):
    """(sin x, cos x, 1.0 where the library must compute them, else 0.0). do_sin's and
    do_cos's arguments fall in one table row, except where 0.855469 <= |x| < 2.426265 puts
    |y| and |y + hp1| on two sides of a row's edge: there the library decides."""
    sx, sdx, cx, cdx, n = _arguments(x)
    k = _row(sx)
    sn, ssn, cs, ccs = _SN[k], _SSN[k], _CS[k], _CCS[k]
    S = _do_sin_t(sx, sdx, sn, ssn, cs, ccs)
    C = _do_cos_t(cx, cdx, sn, ssn, cs, ccs)
    sin_x, cos_x, library = _results(x, S, C, n)
    return sin_x, cos_x, library if _row(cx) == k else 1.0


@_inline
def _library_where_flagged(w, x, sn, cs, flag, n):
    """The library's sin and cos of the values whose flag is set; how many there were."""
    m = 0
    for l in range(n):
        if w[flag + l] != 0.0:
            w[sn + l], w[cs + l] = math.sin(w[x + l]), math.cos(w[x + l])
            m += 1
    return m


@_inline
def _library_lanes(w, x, sn, cs, n):
    for l in range(n):
        w[sn + l], w[cs + l] = math.sin(w[x + l]), math.cos(w[x + l])


@_inline
def sincos_lanes(w, x, sn, cs, flag, n):
    """w[sn + l], w[cs + l] = sin(w[x + l]), cos(w[x + l]) for l < n, the C library's values;
    ``w``: a 1-D float64 array, ``x``, ``sn``, ``cs`` and ``flag`` (n values of scratch) offsets
    into it (offsets, not array views: a view costs two atomic reference counts). Returns how
    many values the library computed."""
    for l in range(n):
        w[sn + l], w[cs + l], w[flag + l] = _sin_cos(w[x + l])
    return _library_where_flagged(w, x, sn, cs, flag, n)


@_inline
def trig_lanes(w, x, sn, cs, flag, n, replica):
    """:func:`sincos_lanes` where ``replica`` (:func:`library_agrees`), else the library's
    ``sin`` and ``cos`` one by one: the same values either way."""
    if replica:
        sincos_lanes(w, x, sn, cs, flag, n)
    else:
        _library_lanes(w, x, sn, cs, n)


@_inline
def _sin_cos_near(x):
    """:func:`_sin_cos` for |x| < 0.855469, where s_sin.c takes do_sin(x, 0) and do_cos(x,
    0): the same operations, without the other ranges' code. 1.0 where the library must
    compute them: below 2^-26, from 0.855469, not finite."""
    k = _row(x)
    sn, ssn, cs, ccs = _SN[k], _SSN[k], _CS[k], _CCS[k]
    ax = abs(x)
    return (_do_sin_t(x, 0.0, sn, ssn, cs, ccs), _do_cos_t(x, 0.0, sn, ssn, cs, ccs),
            0.0 if (ax >= _TINY) & (ax < _NEAR) else 1.0)


@_inline
def sincos_near_lanes(w, x, sn, cs, flag, n):
    """:func:`sincos_lanes` for arguments that are mostly below 0.855469 in magnitude (a
    pole's angle): the library computes the others."""
    for l in range(n):
        w[sn + l], w[cs + l], w[flag + l] = _sin_cos_near(w[x + l])
    return _library_where_flagged(w, x, sn, cs, flag, n)


@_inline
def trig_near_lanes(w, x, sn, cs, flag, n, replica):
    """:func:`sincos_near_lanes` where ``replica`` (:func:`near_agrees`), else the library's
    ``sin`` and ``cos`` one by one: the same values either way."""
    if replica:
        sincos_near_lanes(w, x, sn, cs, flag, n)
    else:
        _library_lanes(w, x, sn, cs, n)


@_inline
def _differences(x, w):
    """How many of sin(x) and cos(x) differ between w[n:2n], w[2n:3n] and the library (NaN
    equal to NaN)."""
    n = x.shape[0]
    bad = 0
    for i in range(n):
        s, c = math.sin(x[i]), math.cos(x[i])
        sn, cs = w[n + i], w[2 * n + i]
        bad += ((sn != s) & ~(np.isnan(sn) & np.isnan(s))) | ((cs != c) & ~(np.isnan(cs) & np.isnan(c)))
    return bad


@_jit
def _compare(x):
    """How many of sin(x) and cos(x) differ between sincos_lanes and the library."""
    n = x.shape[0]
    w = np.empty(4 * n)
    w[:n] = x
    sincos_lanes(w, 0, n, 2 * n, 3 * n, n)
    return _differences(x, w)


@_jit
def _compare_near(x):
    """:func:`_compare` for :func:`sincos_near_lanes`."""
    n = x.shape[0]
    w = np.empty(4 * n)
    w[:n] = x
    sincos_near_lanes(w, 0, n, 2 * n, 3 * n, n)
    return _differences(x, w)


def _check_values(n: int = 4096, seed: int = 0) -> np.ndarray:
    """A fixed spread of values over every range and table row, and both signs."""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(-1.0, 1.0, n) * 10.0 ** rng.uniform(-9, 1.5, n),     # all scales to 30
             rng.uniform(-_FAR, _FAR, n // 8),                                 # reduce_sincos's range
             (np.arange(ENTRIES) + 0.5) / 128, -(np.arange(ENTRIES) + 0.5) / 128,  # next to rows' edges
             np.array([0.0, -0.0, _TINY, _NEAR, _MID, math.pi / 2, math.pi, 3 * math.pi / 2,
                       _FAR * 0.999, np.inf, -np.inf, np.nan])]
    return np.concatenate(parts)


_AGREES: bool | None = None


def library_agrees() -> bool:
    """Whether :func:`sincos_lanes` gives this C library's ``sin`` and ``cos`` on
    :func:`_check_values` (once per process)."""
    global _AGREES
    if _AGREES is None:
        x = _check_values()
        _AGREES = _compare(x) == 0
    return _AGREES


_NEAR_AGREES: bool | None = None


def near_agrees() -> bool:
    """Whether :func:`sincos_near_lanes` gives this C library's ``sin`` and ``cos`` on
    :func:`_check_values` (once per process; CartPole's rollouts ask this one, which
    compiles faster than :func:`library_agrees`'s)."""
    global _NEAR_AGREES
    if _NEAR_AGREES is None:
        _NEAR_AGREES = _compare_near(_check_values()) == 0
    return _NEAR_AGREES
