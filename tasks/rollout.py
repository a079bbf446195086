"""Compiled rollouts: whole episodes of the built-in control ports in one numba call.

For every network p and episode e, in compiled code and in this order per environment
step (the numpy path of :func:`tasks.closed_loop.run_episodes`, step for step)::

    obs     = observe(state)                         # the port's observation, float32
    x       = encode(obs)                            # direct: (obs - offset) / scale
                                                     # population: Gaussian fields
    current = x @ W_in                               # over the non-zero inputs, in order
    repeat sim_steps times:                          # the equations of neurons.models
        I = current + bias + W_rec rows of the neurons that spiked, lowest first
        cuba: i = alpha * i + I;  I = i               # the synaptic current
        v = beta * v + I
        alif: a = rho * a + s[t-1];  A = threshold + b * a   (otherwise A = threshold)
        s = v > A;  v = v - A * s  (or v * (1 - s))
    action  = decode(output spike counts of this step, output v)
    state, reward, terminated = step(state, action)  # the port's physics, float64
    return += reward; stop when terminated or after max_steps

The neuron models are lif, alif and cuba (neurons.models), without synaptic delays. The
sums are those of the numba kernels in their order, and the physics repeat the numpy
ports' operations in their order and dtypes. So a rollout equals the numpy path run with
the numba kernels bit for bit: ``sin`` and ``cos`` of the physics agree between numpy and
the C library, count decoding compares counts, then potentials, and population encoding's
``exp`` and membrane decoding's ``tanh`` are neurons.portable's on both paths
(``tests/test_rollout.py``).

How it runs: ``LANES`` (16) episodes advance together, one per SIMD lane. Every LIF
quantity of neuron j is one vector over the lanes, and so are the weights, copied
lane-interleaved, so each LIF operation is one vector operation. Neurons go in blocks of
4 to 6 (:func:`block_size`: the size that pads N least), whose sums advance together:
independent chains of additions keep the vector units busy where one sum at a time waited
on each addition's latency (10-20% faster rollouts), and each sum keeps its order. The
physics of every port step all lanes at once: MountainCarContinuous's float32 step
(:func:`_mcc_lanes`: a polynomial cosine, and the library's where float32 rounding could
tell the two apart, so the bits stay Gymnasium's), and the others' steps
(:func:`_cartpole_lanes`, :func:`_mountaincar_lanes`, :func:`_acrobot_lanes`,
:func:`_pendulum_lanes`, :func:`_dp_lanes`; some divisions as 8-wide vector divisions,
which LLVM would leave scalar); and their sines and cosines come from
:func:`tasks.lane_trig.trig_lanes` (the poles' of CartPole and the double pole from its
near-range form, ``trig_near_lanes``, which compiles in less time), for all lanes at once
with the C library's bits (its algorithm, vectorized; the library itself where it computes other
bits). The kernel's buffers are views without a reference count: NRT's atomic increments
and decrements around every inlined step took 10% of the acrobot's rollout. The jobs (p,
e) are taken in the order p * E + e by the next free lane: lanes mostly hold one network,
whose neurons tend to spike together (rows of W_rec that no lane's neuron spiked are
skipped), and a finished episode's lane takes the next job at once, so there is no work
for finished episodes and no Python between steps. A lane's arithmetic is that of one
episode alone, so a network's returns never depend on the other networks of the call. One kernel is compiled per (port,
decoding, encoding, reset, neuron model, block), which are constants in it, on first use,
and cached on disk; it holds its port's code only. The module needs numba: import it only where
``neurons.kernels.AVAILABLE``.
"""
from __future__ import annotations

import math
import types

import numba
import numpy as np
from numba.np.numpy_support import carray

from neurons import NetworkBatch, portable
from neurons.encoders import field_centres
from neurons.lif import _finite_thresholds
from neurons.network import MODELS  # lif, alif, cuba: the kernel's numbering
from neurons.simd import WIDE_LANES as LANES
from neurons.simd import SOURCE_DIGEST, address, file_digest, stack_floats
from neurons.simd import vadd16 as vadd, vbits16 as vbits, vdiv16 as vdiv, vgreater16 as vgreater, vload16 as vload
from neurons.simd import vmul16 as vmul, vselect16 as vselect, vsplat16 as vsplat, vstore16 as vstore
from neurons.simd import vdiv_f64x8 as vdiv8, vsub16 as vsub
from tasks import lane_trig
from tasks.lane_trig import trig_lanes, trig_near_lanes

__all__ = ["PORTS", "ENCODINGS", "DECODINGS", "MODELS", "rollout", "WITHOUT_DELAYS"]

PORTS = ("cartpole", "acrobot", "mountaincar", "mountaincar-continuous", "pendulum", "double-pole",
         "double-pole-nv")
ENCODINGS = ("direct", "population")
DECODINGS = ("count_then_voltage", "rate", "membrane")
# why networks with synaptic delays cannot take the compiled path
WITHOUT_DELAYS = "compiled rollouts run networks without synaptic delays (lif, alif or cuba); these have delays"
TRIG_PORTS = ("acrobot", "mountaincar", "pendulum")  # their sines and cosines: tasks.lane_trig
NEAR_TRIG_PORTS = ("cartpole", "double-pole", "double-pole-nv")  # theirs: lane_trig's near-range form (poles)
WINDOW = 100  # the double pole's damping window (tasks.double_pole.WINDOW)
BLOCKS = (4, 5, 6)  # neurons updated together (their sums are independent chains of additions), per N: block_size

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)
_inline = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")  # no call, no reference counts
_exp, _tanh = _inline(portable.exp1), _inline(portable.tanh1)  # numpy's paths use the same arithmetic
PORTABLE_DIGEST = file_digest(portable.__file__)
TRIG_DIGEST = file_digest(lane_trig.__file__)
_CARTPOLE, _ACROBOT, _MOUNTAINCAR, _MCC, _PENDULUM, _DP, _DPNV = range(7)


# ---------------------------------------------------------------------------- physics
@_inline
def _step_cartpole(st, l, action):
    """CartPole-v1's step of lane l in Gymnasium's operations and order (the kernel steps
    every lane at once in the same operations: _cartpole_lanes)."""
    gravity, masspole, length, tau = 9.8, 0.1, 0.5, 0.02
    total_mass = masspole + 1.0
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * math.pi / 360
    x, x_dot, theta, theta_dot = st[l, 0], st[l, 1], st[l, 2], st[l, 3]
    force = 10.0 if action == 1 else -10.0
    costheta = math.cos(theta)
    sintheta = math.sin(theta)
    temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (
        length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    x = x + tau * x_dot
    x_dot = x_dot + tau * xacc
    theta = theta + tau * theta_dot
    theta_dot = theta_dot + tau * thetaacc
    st[l, 0], st[l, 1], st[l, 2], st[l, 3] = x, x_dot, theta, theta_dot
    terminated = (x < -2.4) | (x > 2.4) | (theta < -theta_threshold) | (theta > theta_threshold)
    return 1.0, terminated


# the cartpole's blocks of LANES float64 in the work buffer, after trig_lanes' four
_CX, _CXD, _CTH, _CTHD, _CA, _CB, _CTM, _CTEMP, _CINNER, _CNUM, _CDEN, _CTHACC, _CC, _CQ = range(4, 18)


@_inline
def _cartpole_lanes(st, acts, discrete, reward, done, w, n, replica):
    """_step_cartpole for every lane (lanes without an episode compute what is never read)
    on the actions ``acts`` (float32 indices; action 0 where not ``discrete``), in its
    operations and order: the library's sin and cos of every lane at once (trig_near_lanes),
    the divisions eight lanes at a time (_divide_lanes: LLVM keeps a loop that divides
    scalar), the rest in loops over ``n`` (= LANES, a value LLVM does not know, so that it
    vectorizes them). ``w``: 18 * LANES float64 of work. Writes the states into ``st`` and
    the rewards and ends (0.0 / 1.0) into ``reward`` and ``done``."""
    L = LANES
    gravity, masspole, length, tau = 9.8, 0.1, 0.5, 0.02
    total_mass = masspole + 1.0
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * math.pi / 360
    X, XD, TH, THD, A, B, TM, TEMP = _CX, _CXD, _CTH, _CTHD, _CA, _CB, _CTM, _CTEMP
    INNER, NUM, DEN, THACC, C, Q = _CINNER, _CNUM, _CDEN, _CTHACC, _CC, _CQ
    for l in range(L):
        w[l] = st[l, 2]
        w[X * L + l], w[XD * L + l], w[TH * L + l], w[THD * L + l] = st[l, 0], st[l, 1], st[l, 2], st[l, 3]
        w[TM * L + l] = total_mass
    trig_near_lanes(w, 0, L, 2 * L, 3 * L, L, replica)       # sin at L + l, cos at 2 * L + l
    for l in range(n):
        force = 10.0 if discrete and np.int64(acts[l]) == 1 else -10.0
        thd, sn, cs = w[THD * L + l], w[L + l], w[2 * L + l]
        w[A * L + l] = force + polemass_length * (thd * thd) * sn
        w[B * L + l] = masspole * (cs * cs)
    _divide_lanes(w, TEMP, A, TM)                            # temp
    _divide_lanes(w, INNER, B, TM)
    for l in range(n):
        sn, cs = w[L + l], w[2 * L + l]
        w[NUM * L + l] = gravity * sn - cs * w[TEMP * L + l]
        w[DEN * L + l] = length * (4.0 / 3.0 - w[INNER * L + l])
    _divide_lanes(w, THACC, NUM, DEN)                        # thetaacc
    for l in range(n):
        w[C * L + l] = polemass_length * w[THACC * L + l] * w[2 * L + l]
    _divide_lanes(w, Q, C, TM)
    for l in range(n):
        x, x_dot, theta, theta_dot = w[X * L + l], w[XD * L + l], w[TH * L + l], w[THD * L + l]
        xacc = w[TEMP * L + l] - w[Q * L + l]
        x = x + tau * x_dot
        x_dot = x_dot + tau * xacc
        theta = theta + tau * theta_dot
        theta_dot = theta_dot + tau * w[THACC * L + l]
        w[X * L + l], w[XD * L + l], w[TH * L + l], w[THD * L + l] = x, x_dot, theta, theta_dot
        ended = (x < -2.4) | (x > 2.4) | (theta < -theta_threshold) | (theta > theta_threshold)
        done[l] = np.float32(1.0) if ended else np.float32(0.0)
    for l in range(L):
        st[l, 0], st[l, 1], st[l, 2], st[l, 3] = w[X * L + l], w[XD * L + l], w[TH * L + l], w[THD * L + l]
        reward[l] = 1.0


@_inline
def _acrobot_terms(s2, s3, cos2, sin2, cos12, cos1):
    """Gymnasium's _dsdt before its divisions: (d1, d2, phi1, phi2). ``cos2``, ``sin2``: cos
    and sin of s1; ``cos12``, ``cos1``: cos of (s0 + s1) - pi / 2 and of s0 - pi / 2."""
    m1, m2, l1 = 1.0, 1.0, 1.0
    lc1, lc2, I1, I2, g = 0.5, 0.5, 1.0, 1.0, 9.8
    dtheta1, dtheta2 = s2, s3
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + I2
    phi2 = m2 * lc2 * g * cos12
    phi1 = (-m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
            + (m1 * lc1 + m2 * l1) * g * cos1
            + phi2)
    return d1, d2, phi1, phi2


@_inline
def _acrobot_ddtheta2_parts(s2, a, sin2, phi1, phi2, d2_d1, d2d2_d1):
    """The numerator and denominator of _dsdt's ddtheta2 = (a + d2 / d1 * phi1 - m2 l1 lc2
    dtheta1^2 sin2 - phi2) / (m2 lc2^2 + I2 - d2 * d2 / d1), given d2 / d1 and d2 * d2 / d1."""
    m2, l1, lc2, I2 = 1.0, 1.0, 0.5, 1.0
    dtheta1 = s2
    return (a + d2_d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2), (m2 * lc2**2 + I2 - d2d2_d1)


@_inline
def _wrap(x, m, M):
    diff = M - m
    while x > M:
        x = x - diff
    while x < m:
        x = x + diff
    return x


# _acrobot_lanes' work buffer (float64, in units of LANES): the state, the action, RK4's four
# derivatives, a stage's state, the trig_lanes arguments, sines, cosines and flags (3 each),
# and _dsdt's terms d1, d2, phi1, phi2, d2 * d2, and the quotients and their operands
_AS, _AA, _AK, _AY, _AX, _ASN, _ACS, _AFL = 0, 4, 5, 21, 25, 28, 31, 34
_AD1, _AD2, _APH1, _APH2, _ASQ, _AQ1, _AQ2, _ANUM, _ADEN, _AT = range(37, 47)
PHYSICS_WORK = 47  # float64 per lane of the kernel's work buffer for the lanes' physics: the acrobot's


@_inline
def _divide_lanes(w, out, a, b):
    """w[out * LANES + l] = w[a * LANES + l] / w[b * LANES + l] for every lane, eight at a
    time (neurons.simd.vdiv_f64x8)."""
    L = LANES
    for i in range(0, L, 8):
        vdiv8(w, out * L + i, w, a * L + i, w, b * L + i)


@_inline
def _acrobot_stage_state(w, k_in, h, first):
    """A stage's state y = s + h * k_in (s itself for the first) for every lane, and the
    arguments of its cosines: (y0 + y1) - pi/2, y0 - pi/2, and y1 (sine and cosine)."""
    L = LANES
    pi = math.pi
    for l in range(L):
        for i in range(4):
            w[(_AY + i) * L + l] = w[(_AS + i) * L + l] if first else \
                w[(_AS + i) * L + l] + h * w[(k_in + i) * L + l]
        y0, y1 = w[_AY * L + l], w[(_AY + 1) * L + l]
        w[_AX * L + l] = y0 + y1 - pi / 2.0
        w[(_AX + 1) * L + l] = y0 - pi / 2
        w[(_AX + 2) * L + l] = y1


@_inline
def _acrobot_rates(w, k_out, trig, first):
    """k_out = _dsdt(y) for every lane, from the stage's cosines (the first stage takes sin and
    cos of y1 from ``trig``); _dsdt's divisions as vectors between loops that LLVM vectorizes
    (it keeps a loop scalar that divides)."""
    L = LANES
    for l in range(L):
        cos2 = trig[2 * L + l] if first else w[(_ACS + 2) * L + l]
        sin2 = trig[3 * L + l] if first else w[(_ASN + 2) * L + l]
        d1, d2, phi1, phi2 = _acrobot_terms(w[(_AY + 2) * L + l], w[(_AY + 3) * L + l], cos2, sin2,
                                            w[_ACS * L + l], w[(_ACS + 1) * L + l])
        w[_AD1 * L + l], w[_AD2 * L + l], w[_APH1 * L + l], w[_APH2 * L + l] = d1, d2, phi1, phi2
        w[_ASQ * L + l] = d2 * d2
        w[_AT * L + l] = sin2
    _divide_lanes(w, _AQ1, _AD2, _AD1)                        # d2 / d1
    _divide_lanes(w, _AQ2, _ASQ, _AD1)                        # d2 * d2 / d1
    for l in range(L):
        w[_ANUM * L + l], w[_ADEN * L + l] = _acrobot_ddtheta2_parts(
            w[(_AY + 2) * L + l], w[_AA * L + l], w[_AT * L + l], w[_APH1 * L + l], w[_APH2 * L + l],
            w[_AQ1 * L + l], w[_AQ2 * L + l])
    _divide_lanes(w, k_out + 3, _ANUM, _ADEN)                 # ddtheta2
    for l in range(L):
        w[_AT * L + l] = -(w[_AD2 * L + l] * w[(k_out + 3) * L + l] + w[_APH1 * L + l])
    _divide_lanes(w, k_out + 2, _AT, _AD1)                    # ddtheta1 = -(d2 ddtheta2 + phi1) / d1
    for l in range(L):
        w[k_out * L + l], w[(k_out + 1) * L + l] = w[(_AY + 2) * L + l], w[(_AY + 3) * L + l]


@_inline
def _acrobot_new_state(st, w):
    """RK4's new state from the four derivatives, wrapped and clipped as Gymnasium does, into
    ``st``, and the arguments of its cosines: n0, n1 (sine and cosine), n1 + n0."""
    L = LANES
    h = 0.2 / 6.0
    pi = math.pi
    for l in range(L):
        for i in range(4):
            k1, k2 = w[(_AK + i) * L + l], w[(_AK + 4 + i) * L + l]
            k3, k4 = w[(_AK + 8 + i) * L + l], w[(_AK + 12 + i) * L + l]
            w[(_AY + i) * L + l] = w[(_AS + i) * L + l] + h * (k1 + 2 * k2 + 2 * k3 + k4)
    for l in range(L):
        n0 = _wrap(w[_AY * L + l], -pi, pi)
        n1 = _wrap(w[(_AY + 1) * L + l], -pi, pi)
        n2 = min(max(w[(_AY + 2) * L + l], -4 * pi), 4 * pi)
        n3 = min(max(w[(_AY + 3) * L + l], -9 * pi), 9 * pi)
        st[l, 0], st[l, 1], st[l, 2], st[l, 3] = n0, n1, n2, n3
        w[_AX * L + l], w[(_AX + 1) * L + l], w[(_AX + 2) * L + l] = n0, n1, n1 + n0


@_inline
def _acrobot_lanes(st, acts, discrete, trig, w, reward, done, replica):
    """Acrobot-v1's step for every lane (lanes without an episode compute what is never
    read), on the actions ``acts`` (float32 indices; action 0 where not ``discrete``), in
    Gymnasium's operations and order: RK4's four stages over all lanes, then the new state;
    each of the five takes its sines and cosines from one trig_lanes call, at one place in
    the code, so that the kernel holds one copy of it (five copies took a minute to
    compile). ``trig[l + i * LANES]``, i = 0..3: cos and sin of the state's two angles, which
    the observation read (_observe_acrobot): the first stage takes y1's from there, and the
    step leaves those of the new state there, where its end test needs cos of the first
    angle anyway. Writes the states into ``st`` and the rewards and ends (0.0 / 1.0) into
    ``reward`` and ``done``."""
    L = LANES
    dt = 0.2
    for l in range(L):
        for i in range(4):
            w[(_AS + i) * L + l] = st[l, i]
        ai = np.int64(acts[l]) if discrete else 0
        w[_AA * L + l] = -1.0 if ai == 0 else (0.0 if ai == 1 else 1.0)
    for stage in range(5):                                   # RK4's stages, then the new state
        if stage < 4:
            _acrobot_stage_state(w, _AK + 4 * max(stage - 1, 0), dt / 2.0 if stage < 3 else dt, stage == 0)
        else:
            _acrobot_new_state(st, w)
        trig_lanes(w, _AX * L, _ASN * L, _ACS * L, _AFL * L, 2 * L if stage == 0 else 3 * L, replica)
        if stage < 4:
            _acrobot_rates(w, _AK + 4 * stage, trig, stage == 0)
    for l in range(L):
        c0 = w[_ACS * L + l]
        trig[l], trig[L + l] = c0, w[_ASN * L + l]
        trig[2 * L + l], trig[3 * L + l] = w[(_ACS + 1) * L + l], w[(_ASN + 1) * L + l]
        terminated = -c0 - w[(_ACS + 2) * L + l] > 1.0
        reward[l] = 0.0 if terminated else -1.0
        done[l] = np.float32(1.0) if terminated else np.float32(0.0)


@_inline
def _step_mountaincar(st, l, action):
    """MountainCar-v0's step of lane l in Gymnasium's operations and order (the kernel steps
    every lane at once in the same operations: _mountaincar_lanes)."""
    position, velocity = st[l, 0], st[l, 1]
    velocity = velocity + (action - 1) * 0.001 + math.cos(3 * position) * (-0.0025)
    velocity = min(max(velocity, -0.07), 0.07)
    position = position + velocity
    position = min(max(position, -1.2), 0.6)
    velocity = 0.0 if (position == -1.2) & (velocity < 0) else velocity
    st[l, 0], st[l, 1] = position, velocity
    return -1.0, (position >= 0.5) & (velocity >= 0.0)


@_inline
def _step_mcc(st, l, action):
    """MountainCarContinuous in float32, as Gymnasium keeps it; ``action`` float32."""
    f32 = np.float32
    position, velocity = f32(st[l, 0]), f32(st[l, 1])
    force = min(max(action, f32(-1.0)), f32(1.0))
    gravity = f32(0.0025 * math.cos(np.float64(f32(3) * position)))
    velocity = velocity + (force * f32(0.0015) - gravity)
    velocity = min(max(velocity, f32(-0.07)), f32(0.07))
    position = position + velocity
    position = min(max(position, f32(-1.2)), f32(0.6))
    velocity = f32(0.0) if (position == f32(-1.2)) & (velocity < 0) else velocity
    st[l, 0], st[l, 1] = position, velocity
    terminated = (position >= f32(0.45)) & (velocity >= f32(0.0))
    a = np.float64(action)
    return (100.0 if terminated else 0.0) - (a * a) * 0.1, terminated


_TWO_PI_HI, _TWO_PI_LO = 6.2831854820251465, -1.7484556025237907e-07  # 2 pi = hi + lo, 24 and 27 bits


@_inline
def _two_pi_rest(x, q):
    """x - q * 2 pi, exactly where the result is a double: q * hi and q * lo are exact for
    integers q below 2^26, x - q * hi is exact (a multiple of x's ulp, below 8), and the last
    subtraction rounds what is representable to itself."""
    return (x - q * _TWO_PI_HI) - q * _TWO_PI_LO


@_inline
def _mod_two_pi_select(x):
    """x % (2 pi) as numba and numpy compute it (floor modulo: fmod, then + 2 pi where the
    remainder is negative, +0.0 for a zero one), without the library's fmod, and with
    selects for branches, so that a loop of it vectorizes: q = trunc(x / 2 pi) gives fmod's
    exact remainder, or, where the division rounded up onto an integer, one step past it
    (rounding never goes below an integer that the exact quotient reaches, so never one
    short). Returns (the remainder, 1.0 where |x| >= 1e6 or x is not finite, whose remainder
    only the library's gives, else 0.0)."""
    c = 2 * math.pi
    near = abs(x) < 1e6
    y = x if near else 0.0
    q = np.trunc(y / c)
    r = _two_pi_rest(y, q)
    below = _two_pi_rest(y, q - 1.0)
    above = _two_pi_rest(y, q + 1.0)
    r = below if (y >= 0.0) & (r < 0.0) else (above if (y < 0.0) & (r > 0.0) else r)
    r = r + c if r < 0.0 else (r if r != 0.0 else 0.0)
    return r, 0.0 if near else 1.0


@_inline
def _mod_two_pi(x):
    """x % (2 pi): _mod_two_pi_select's, the library's where |x| >= 1e6 or x is not finite."""
    r, far = _mod_two_pi_select(x)
    return x % (2 * math.pi) if far != 0.0 else r


@_inline
def _step_pendulum(st, l, action, sin_th):
    """Pendulum-v1; ``action`` float32, clipped to [-2, 2] in float32 as numpy does; ``sin_th``
    sin(th), which the observation computed."""
    f32 = np.float32
    th, thdot = st[l, 0], st[l, 1]
    u = min(max(action, f32(-2.0)), f32(2.0))
    angle = _mod_two_pi(th + math.pi) - math.pi              # ((th + pi) % (2 pi)) - pi
    costs = angle * angle + 0.1 * (thdot * thdot) + f32(0.001) * (u * u)
    newthdot = thdot + (3 * 10.0 / (2 * 1.0) * sin_th + f32(3.0) * u) * 0.05
    newthdot = min(max(newthdot, -8.0), 8.0)
    st[l, 0], st[l, 1] = th + newthdot * 0.05, newthdot
    return -costs, False


@_inline
def _pendulum_lanes(st, acts, trig, w, n, reward, done):
    """_step_pendulum for every lane (lanes without an episode compute what is never read)
    on the float32 actions ``acts``, with sin(th) from ``trig`` (the observation's), in its
    operations and order: one loop over ``n`` (= LANES, a value LLVM does not know, so that
    it vectorizes the loop instead of unrolling it) with _mod_two_pi_select; lanes whose
    angle is 10^6 or more step again with _step_pendulum. ``w``: 5 * LANES float64 of work."""
    L = LANES
    f32 = np.float32
    for l in range(L):
        w[l], w[L + l] = st[l, 0], st[l, 1]
    for l in range(n):
        th, thdot = w[l], w[L + l]
        u = min(max(acts[l], f32(-2.0)), f32(2.0))
        m, far = _mod_two_pi_select(th + math.pi)
        angle = m - math.pi
        costs = angle * angle + 0.1 * (thdot * thdot) + f32(0.001) * (u * u)
        newthdot = thdot + (3 * 10.0 / (2 * 1.0) * trig[l] + f32(3.0) * u) * 0.05
        newthdot = min(max(newthdot, -8.0), 8.0)
        w[2 * L + l], w[3 * L + l], w[4 * L + l] = th + newthdot * 0.05, newthdot, far
        reward[l] = -costs
    for l in range(L):
        st[l, 0], st[l, 1] = w[2 * L + l], w[3 * L + l]
        done[l] = f32(0.0)
        if w[4 * L + l] != 0.0:
            st[l, 0], st[l, 1] = w[l], w[L + l]
            reward[l] = _step_pendulum(st, l, acts[l], trig[l])[0]


@_inline
def _dp_derivs(force, y1, y2, y3, y4, y5):
    return _dp_derivs_t(force, y3, y5, math.cos(y2), math.sin(y2), math.cos(y4), math.sin(y4))


@_inline
def _dp_derivs_t(force, y3, y5, c1, s1, c2, s2):
    """The double pole's accelerations (cart, pole 1, pole 2), given cos and sin of the two
    pole angles."""
    g, mup = -9.8, 0.000002
    m1, l1, m2, l2 = 0.1, 0.5, 0.01, 0.05
    gs1, gs2 = g * s1, g * s2
    ml1, ml2 = l1 * m1, l2 * m2
    t1, t2 = mup * y3 / ml1, mup * y5 / ml2
    fi1 = ml1 * (y3 * y3) * s1 + 0.75 * m1 * c1 * (t1 + gs1)
    fi2 = ml2 * (y5 * y5) * s2 + 0.75 * m2 * c2 * (t2 + gs2)
    mi1, mi2 = m1 * (1 - 0.75 * c1 * c1), m2 * (1 - 0.75 * c2 * c2)
    xacc = (force + fi1 + fi2) / (mi1 + mi2 + 1.0)
    return xacc, -0.75 * (xacc * c1 + gs1 + t1) / l1, -0.75 * (xacc * c2 + gs2 + t2) / l2


@_inline
def _dp_rate(force, y, out):
    a, b, c = _dp_derivs(force, y[1], y[2], y[3], y[4], y[5])
    out[0], out[1], out[2], out[3], out[4], out[5] = y[1], a, y[3], b, y[5], c


@_inline
def _step_double_pole(st, l, action, work):
    """Two RK4 steps of 0.01 s; ``work`` (5, 6) scratch. State as DoublePolePhysics. The
    kernel steps every lane at once in the same operations (_dp_lanes)."""
    force = min(max(np.float64(action), -1.0), 1.0) * 10.0
    tau = 0.01
    hh, h6 = tau * 0.5, tau / 6.0
    y, dydx, dyt, dym, tmp = work[0], work[1], work[2], work[3], work[4]
    for i in range(6):
        y[i] = st[l, i]
    for _ in range(2):
        _dp_rate(force, y, dydx)
        for i in range(6):
            tmp[i] = y[i] + hh * dydx[i]
        _dp_rate(force, tmp, dyt)
        for i in range(6):
            tmp[i] = y[i] + hh * dyt[i]
        _dp_rate(force, tmp, dym)
        for i in range(6):
            tmp[i] = y[i] + tau * dym[i]
            dym[i] = dym[i] + dyt[i]
        _dp_rate(force, tmp, dyt)
        for i in range(6):
            y[i] = y[i] + h6 * (dydx[i] + dyt[i] + 2.0 * dym[i])
    for i in range(6):
        st[l, i] = y[i]
    t = np.int64(st[l, 6 + WINDOW])
    st[l, 6 + t % WINDOW] = abs(y[0]) + abs(y[1]) + abs(y[2]) + abs(y[3])
    st[l, 6 + WINDOW] = t + 1
    failed = (abs(y[0]) > 2.4) | (abs(y[2]) > 0.628329) | (abs(y[4]) > 0.628329)
    return (0.0 if failed else 1.0), failed


# the double pole's blocks of LANES float64 in the work buffer: y, the three rates, the stage's
# state, the arguments of the sines and cosines (two blocks each), their values, and the force
_DY, _DDYDX, _DDYT, _DDYM, _DTMP, _DX, _DSN, _DCS, _DFL, _DF = 0, 6, 12, 18, 24, 30, 32, 34, 36, 38


@_inline
def _dp_lanes(st, acts, w, n, reward, done, replica):
    """_step_double_pole for every lane (lanes without an episode compute what is never
    read) on the float32 actions ``acts``, in its operations and order: each of the eight
    evaluations of the rates (two RK4 steps of four stages) takes the sines and cosines of
    every lane's two pole angles at once (trig_near_lanes: the poles fail at 0.628 rad), at
    one place in the code; the rest runs in loops over ``n`` (= LANES). ``w``: 39 * LANES
    float64 of work. Writes the states (with the damping window) into ``st`` and the rewards
    and ends (0.0 / 1.0) into ``reward`` and ``done``."""
    L = LANES
    tau = 0.01
    hh, h6 = tau * 0.5, tau / 6.0
    Y, DYDX, DYT, DYM, TMP, X, SN, CS, FL, F = _DY, _DDYDX, _DDYT, _DDYM, _DTMP, _DX, _DSN, _DCS, _DFL, _DF
    for l in range(L):
        for i in range(6):
            w[(Y + i) * L + l] = st[l, i]
        w[F * L + l] = min(max(np.float64(acts[l]), -1.0), 1.0) * 10.0
    for e in range(8):                                       # two RK4 steps of four stages
        stage = e % 4
        src = Y if stage == 0 else TMP
        dst = DYDX if stage == 0 else (DYM if stage == 2 else DYT)
        for l in range(n):
            w[X * L + l], w[(X + 1) * L + l] = w[(src + 2) * L + l], w[(src + 4) * L + l]
        trig_near_lanes(w, X * L, SN * L, CS * L, FL * L, 2 * L, replica)
        for l in range(n):                                   # _dp_rate(force, src, dst)
            y1, y3, y5 = w[(src + 1) * L + l], w[(src + 3) * L + l], w[(src + 5) * L + l]
            a, b, c = _dp_derivs_t(w[F * L + l], y3, y5, w[CS * L + l], w[SN * L + l], w[(CS + 1) * L + l],
                                   w[(SN + 1) * L + l])
            w[dst * L + l], w[(dst + 1) * L + l], w[(dst + 2) * L + l] = y1, a, y3
            w[(dst + 3) * L + l], w[(dst + 4) * L + l], w[(dst + 5) * L + l] = b, y5, c
        for i in range(6):
            for l in range(n):
                y = w[(Y + i) * L + l]
                if stage == 0:
                    w[(TMP + i) * L + l] = y + hh * w[(DYDX + i) * L + l]
                elif stage == 1:
                    w[(TMP + i) * L + l] = y + hh * w[(DYT + i) * L + l]
                elif stage == 2:
                    w[(TMP + i) * L + l] = y + tau * w[(DYM + i) * L + l]
                    w[(DYM + i) * L + l] = w[(DYM + i) * L + l] + w[(DYT + i) * L + l]
                else:
                    w[(Y + i) * L + l] = y + h6 * (w[(DYDX + i) * L + l] + w[(DYT + i) * L + l]
                                                   + 2.0 * w[(DYM + i) * L + l])
    for l in range(L):
        for i in range(6):
            st[l, i] = w[(Y + i) * L + l]
        y0, y1, y2, y3, y4 = st[l, 0], st[l, 1], st[l, 2], st[l, 3], st[l, 4]
        t = np.int64(st[l, 6 + WINDOW])
        st[l, 6 + t % WINDOW] = abs(y0) + abs(y1) + abs(y2) + abs(y3)
        st[l, 6 + WINDOW] = t + 1
        failed = (abs(y0) > 2.4) | (abs(y2) > 0.628329) | (abs(y4) > 0.628329)
        reward[l] = 0.0 if failed else 1.0
        done[l] = np.float32(1.0) if failed else np.float32(0.0)


@_inline
def _cos_near(y):
    """cos(y) for |y| <= 4 in float64 within 2e-16 (measured 1.1e-16): the nearest multiple
    k of pi/2 (Cody-Waite), then Taylor polynomials of the remainder's sine and cosine,
    |r| <= pi/4, chosen by k mod 4 with arithmetic, no branch, so that a loop vectorizes."""
    ay = abs(y)
    k = np.floor(ay * 0.6366197723675814 + 0.5)
    r = (ay - k * 1.57079632673412561417) - k * 6.07710050650619224932e-11
    z = r * r
    c = 1.0 + z * (-1.0 / 2 + z * (1.0 / 24 + z * (-1.0 / 720 + z * (1.0 / 40320 + z * (
        -1.0 / 3628800 + z * (1.0 / 479001600 + z * (-1.0 / 87178291200 + z * (
            1.0 / 20922789888000 + z * (-1.0 / 6402373705728000)))))))))
    sn = r + r * z * (-1.0 / 6 + z * (1.0 / 120 + z * (-1.0 / 5040 + z * (1.0 / 362880 + z * (
        -1.0 / 39916800 + z * (1.0 / 6227020800 + z * (-1.0 / 1307674368000 + z * (
            1.0 / 355687428096000 + z * (-1.0 / 121645100408832000)))))))))
    q = k - 4.0 * np.floor(k * 0.25)                             # k mod 4
    odd = q - 2.0 * np.floor(q * 0.5)
    value = sn if odd == 1.0 else c
    return -value if (q == 1.0) | (q == 2.0) else value


@_inline
def _mcc_gravity(three_pos, gravity, exact):
    """gravity[l] = f32(0.0025 cos(three_pos[l])) for every lane from _cos_near, and exact[l]
    = 1.0 where float32 rounding could tell that from the C library's cos (a margin of 1e-14
    on the cosine, 90 times _cos_near's error and the library's): there only _step_mcc
    itself gives Gymnasium's value. A loop without branches over three arrays: it
    vectorizes."""
    for l in range(LANES):
        g = 0.0025 * _cos_near(np.float64(three_pos[l]))
        gravity[l] = np.float32(g)
        exact[l] = np.float32(1.0) if np.float32(g - 2.5e-17) != np.float32(g + 2.5e-17) else np.float32(0.0)


@_inline
def _mcc_lanes(st, acts, old, three, gravity, exact, reward, done):
    """_step_mcc for every lane at once (lanes without an episode compute what is never
    read): float32 vectors in _step_mcc's operations and order, clipping with selects, the
    gravity from _mcc_gravity; lanes that need the library's cos step again from their old
    state with _step_mcc. Writes the states into ``st`` and the rewards and ends (0.0 / 1.0)
    into ``reward`` and ``done``."""
    f32 = np.float32
    L = LANES
    for l in range(L):
        old[l], old[L + l] = f32(st[l, 0]), f32(st[l, 1])
    position, velocity = vload(old, 0), vload(old, L)
    vstore(three, 0, vmul(vsplat(f32(3)), position))
    _mcc_gravity(three, gravity, exact)
    one, zero = vsplat(f32(1.0)), vsplat(f32(0.0))
    lo, hi = vsplat(f32(-1.0)), vsplat(f32(1.0))
    action = vload(acts, 0)
    force = vselect(vgreater(action, lo), action, lo)                      # min(max(action, -1), 1)
    force = vselect(vgreater(hi, force), force, hi)
    velocity = vadd(velocity, vsub(vmul(force, vsplat(f32(0.0015))), vload(gravity, 0)))
    vlo, vhi = vsplat(f32(-0.07)), vsplat(f32(0.07))
    velocity = vselect(vgreater(velocity, vlo), velocity, vlo)
    velocity = vselect(vgreater(vhi, velocity), velocity, vhi)
    position = vadd(position, velocity)
    plo, phi = vsplat(f32(-1.2)), vsplat(f32(0.6))
    position = vselect(vgreater(position, plo), position, plo)
    position = vselect(vgreater(phi, position), position, phi)
    at_wall = vmul(vsub(one, vgreater(position, plo)), vgreater(zero, velocity))  # position == -1.2, velocity < 0
    velocity = vselect(at_wall, zero, velocity)
    ends = vmul(vsub(one, vgreater(vsplat(f32(0.45)), position)), vsub(one, vgreater(zero, velocity)))
    vstore(three, 0, position)
    vstore(gravity, 0, velocity)
    vstore(done, 0, ends)
    for l in range(L):
        a = np.float64(acts[l])
        reward[l] = (100.0 if done[l] != f32(0.0) else 0.0) - (a * a) * 0.1
        st[l, 0], st[l, 1] = three[l], gravity[l]
    for l in range(L):
        if exact[l] != f32(0.0):
            st[l, 0], st[l, 1] = old[l], old[L + l]
            r, ended = _step_mcc(st, l, acts[l])
            reward[l], done[l] = r, f32(1.0) if ended else f32(0.0)


# Per port, what the episode kernel calls as ``_observe(st, l, obs, trig)`` (lane l's
# observation into ``obs[:, l]``; ``trig``, 4 * LANES float64, lane l's first one NaN at an
# episode's start, carries sines and cosines between a port's step and its observation);
# the steps themselves take all lanes at once (the ``_*_lanes`` functions). _kernel binds the
# port's observation as the kernel's global, so that a kernel holds one port's code.
@_inline
def _mountaincar_lanes(st, acts, discrete, reward, done, w, n, replica):
    """_step_mountaincar for every lane (lanes without an episode compute what is never
    read), on the actions ``acts`` (float32 indices; every action 0 where not ``discrete``):
    the library's cos of every lane at once (trig_lanes; ``w``: 4 * LANES float64 of work),
    then the rest in _step_mountaincar's operations and order, in one loop over ``n`` (=
    LANES, a value LLVM does not know, so that it vectorizes the loop instead of unrolling
    it) whose branches are selects. Writes the states into ``st`` and the rewards and ends
    (0.0 / 1.0) into ``reward`` and ``done``."""
    L = LANES
    for l in range(L):
        w[l] = 3 * st[l, 0]
    trig_lanes(w, 0, L, 2 * L, 3 * L, L, replica)
    for l in range(L):                                    # the arguments' and sines' places: the state
        w[l], w[L + l] = st[l, 0], st[l, 1]
    for l in range(n):
        position, velocity = w[l], w[L + l]
        push = np.float64(acts[l]) - 1.0 if discrete else -1.0              # action - 1
        velocity = velocity + push * 0.001 + w[2 * L + l] * (-0.0025)
        velocity = min(max(velocity, -0.07), 0.07)
        position = position + velocity
        position = min(max(position, -1.2), 0.6)
        velocity = 0.0 if (position == -1.2) & (velocity < 0) else velocity
        w[l], w[L + l] = position, velocity
        done[l] = np.float32(1.0) if (position >= 0.5) & (velocity >= 0.0) else np.float32(0.0)
    for l in range(L):
        st[l, 0], st[l, 1] = w[l], w[L + l]
        reward[l] = -1.0


@_inline
def _observe_state(st, l, obs, trig):  # cartpole, mountain cars, double pole: the state's first values
    for i in range(obs.shape[0]):
        obs[i, l] = np.float32(st[l, i])


@_inline
def _observe_acrobot(st, l, obs, trig):
    """The observation from ``trig`` (see _acrobot_lanes), which it computes first where it is
    NaN: at an episode's start."""
    f32 = np.float32
    L = LANES
    if np.isnan(trig[l]):
        th1, th2 = st[l, 0], st[l, 1]  # loaded once: the sine and cosine of each, one call
        trig[l], trig[L + l], trig[2 * L + l], trig[3 * L + l] = math.cos(th1), math.sin(th1), math.cos(th2), \
            math.sin(th2)
    c1, s1, c2, s2 = trig[l], trig[L + l], trig[2 * L + l], trig[3 * L + l]
    obs[0, l], obs[1, l], obs[2, l], obs[3, l] = f32(c1), f32(s1), f32(c2), f32(s2)
    obs[4, l], obs[5, l] = f32(st[l, 2]), f32(st[l, 3])


@_inline
def _observe_pendulum(st, l, obs, trig):
    """From sin and cos of the angle, which the kernel left in ``trig[l]`` and ``trig[L + l]``
    and the physics use too: the state does not change in between."""
    f32 = np.float32
    sn, cs = trig[l], trig[LANES + l]
    obs[0, l], obs[1, l], obs[2, l] = f32(cs), f32(sn), f32(st[l, 1])


@_inline
def _observe_dpnv(st, l, obs, trig):
    f32 = np.float32
    obs[0, l], obs[1, l], obs[2, l] = f32(st[l, 0]), f32(st[l, 2]), f32(st[l, 4])


_OBSERVE = {_CARTPOLE: _observe_state, _ACROBOT: _observe_acrobot, _MOUNTAINCAR: _observe_state, _MCC: _observe_state,
            _PENDULUM: _observe_pendulum, _DP: _observe_state, _DPNV: _observe_dpnv}
_observe = _observe_state  # the name the kernel calls; _kernel binds its port's


# ---------------------------------------------------------------------------- episodes


@_inline
def _discrete_actions(cnt, v, n_out, acts):
    """``acts[l]``, for every lane l at once: neurons.decoders.count_then_voltage's scan,
    output j replacing the best so far where ``c_j > c_best or (c_j == c_best and v_j >
    v_best)`` (a NaN potential counts as -inf), in branch-free arithmetic on 0.0 / 1.0
    masks over all lanes (deciding lane by lane took about 30% of a MountainCar rollout)."""
    f32 = np.float32
    one, zero, low = vsplat(f32(1.0)), vsplat(f32(0.0)), vsplat(f32(-np.inf))
    bc, bv, bi = vload(cnt, 0), vload(v, 0), zero           # the best so far: count, potential, index
    bv = vselect(vgreater(bv, low), bv, low)                # NaN -> -inf
    for j in range(1, n_out):
        cj, vj = vload(cnt, j * LANES), vload(v, j * LANES)
        vj = vselect(vgreater(vj, low), vj, low)
        more = vgreater(cj, bc)
        same = vsub(vsub(one, more), vgreater(bc, cj))      # counts are whole numbers: equal or not
        better = vadd(more, vmul(same, vgreater(vj, bv)))
        bc, bv, bi = vselect(better, cj, bc), vselect(better, vj, bv), vselect(better, vsplat(f32(j)), bi)
    vstore(acts, 0, bi)


def block_size(n_neurons: int) -> int:
    """The block of neurons updated together for networks of ``n_neurons``: of BLOCKS, the
    one that pads N least (the smaller on a tie), e.g. 5 for N = 10 (8 hidden + 2 outputs),
    4 for N = 11."""
    return min(BLOCKS, key=lambda b: (-n_neurons % b, b))


@_inline
def _load_network(p, l, w_in, w_rec, bias, beta, thr, thr_fin, subtract, lw_in, lw_rec, lbias, lbeta, lthr, lfin,
                  alpha, rho, badapt, lalpha, lrho, lbad, NB):
    """Network p's parameters into lane l of the lane-interleaved copies ([..., l] flat);
    alpha (cuba), rho and b (alif) where they have rows. Rows of ``lw_in`` and ``lw_rec`` hold
    NB: N rounded up to a whole number of blocks (the rest stay 0)."""
    L = LANES
    n_in, N = w_in.shape[1], w_in.shape[2]
    for k in range(n_in):
        for j in range(N):
            lw_in[(k * NB + j) * L + l] = w_in[p, k, j]
    for i in range(N):
        for j in range(N):
            lw_rec[(i * NB + j) * L + l] = w_rec[p, i, j]
    for j in range(N):
        lbias[j * L + l], lbeta[j * L + l], lthr[j * L + l] = bias[p, j], beta[p, j], thr[p, j]
        lfin[j * L + l] = thr_fin[p, j] if subtract else np.float32(0.0)
    if alpha.shape[0]:
        for j in range(N):
            lalpha[j * L + l] = alpha[p, j]
    if rho.shape[0]:
        for j in range(N):
            lrho[j * L + l], lbad[j * L + l] = rho[p, j], badapt[p, j]


@_inline
def _start_episode(l, e, start, st, v, s, isyn, adapt, N, trig):
    """Lane l starts episode e: its start state, neurons at rest, its sines not known yet."""
    for i in range(start.shape[1]):
        st[l, i] = start[e, i]
    trig[l] = np.nan
    for j in range(N):
        v[j * LANES + l] = 0.0
        s[j * LANES + l] = 0.0
        isyn[j * LANES + l] = 0.0
        adapt[j * LANES + l] = 0.0


_kernels: dict = {}


@_inline
def _pad(n, per_line):
    """n rounded up to a multiple of ``per_line`` (items of a 64-byte line, or a block)."""
    return (n + per_line - 1) // per_line * per_line


@_inline
def _view(buf, start, shape):
    """buf[start:] as an array of ``shape``, a view that carries no reference count
    (:func:`neurons.simd.address`): ``buf`` must outlive it."""
    return carray(address(buf, start), shape)


@_inline
def _block(words):
    """``words`` zeroed float64 that start on a 64-byte line. numba aligns its arrays to 32
    bytes only; a 16-lane vector of an array that starts 32 bytes into a line straddles two
    lines at every load and store, which made a CartPole rollout 8-10% slower."""
    raw = np.zeros(words + 8, np.float64)
    skip = (8 - (raw.ctypes.data % 64) // 8) % 8
    return raw[skip:skip + words]


def _kernel(port: int, decoding: int, population: bool, subtract: bool, model: int = 0, block: int = 4):
    """The episode kernel for one (port, decoding, encoding, reset, neuron model, block of
    neurons), compiled on first use and cached on disk: the six are constants in it, so its
    loops hold no branch on them."""
    key = (port, decoding, population, subtract, model, block)
    ALIF, CUBA = MODELS[model] == "alif", MODELS[model] == "cuba"
    if key in _kernels:
        return _kernels[key]
    BLOCK = block  # neurons updated together
    ACC = BLOCK * LANES  # the block's sums, on the stack: in registers
    SIMD = SOURCE_DIGEST
    PORTABLE = PORTABLE_DIGEST
    TRIG = TRIG_DIGEST

    def _episodes(start, max_steps, sim_steps, w_in, w_rec, bias, beta, thr, thr_fin, alpha, rho, badapt, n_out,
                  scale, offset, centres, widths, action_scale, returns, steps, spikes, final, keep_final, stop,
                  replica):
        """All episodes of every network: ``start`` (E, S) float64 start states; results written
        to ``returns``, ``steps``, ``spikes`` (P, E) and, with ``keep_final``, ``final`` (P, E, S).
        ``stop[0] != 0``, set by another thread, ends the call within a simulation step (the
        results are then incomplete).
        ``replica``: the sines and cosines of tasks.lane_trig's vectorized replica of the C
        library (lane_trig.library_agrees()), else the library's own calls.

        LANES episodes run at once, one per SIMD lane: every LIF quantity of neuron j is one
        vector of LANES floats at ``[j * LANES]`` of a flat array (the weights too, copied
        lane-interleaved), updated with the SIMD operations of neurons.simd, which round as the
        scalar ones do. The physics run lane by lane (MountainCarContinuous's at once). The
        jobs (p, e) are taken in the order p * E + e, each by the next lane free, so that
        lanes mostly hold one network (its neurons then spike together, and rows no lane
        spiked are skipped) and idle only at the end of the call."""
        SIMD  # noqa: B018  a closure cell, so in numba's cache key: a change of neurons.simd recompiles
        PORTABLE  # noqa: B018  and of neurons.portable (exp, tanh)
        TRIG  # noqa: B018  and of tasks.lane_trig
        P, n_in, N = w_in.shape
        E, S = start.shape
        d = scale.shape[0]
        L = LANES
        f32 = np.float32
        NB = _pad(N, BLOCK)                                      # neurons in blocks: N and padding that never
        NL, C = NB * L, max(n_out, 2) * L                        # spikes; every buffer in one block, each on
        f8_sizes = (L * S, L, L, L, L, L, N, L, 4 * L, L, PHYSICS_WORK * L)  # a 64-byte line (see _block): float64
        f4_sizes = (L * d, n_in * L, n_in * NL, N * NL, NL, NL, 2 * NL, NL, NL, NL, NL, NL, NL, NL, NL, NL, C, L,
                    L, 4 * L, L, L, L, L)                        # and int64 buffers, then float32 ones
        at = np.zeros(len(f8_sizes) + 1, np.int64)               # where each buffer starts, in its items
        for k in range(len(f8_sizes)):
            at[k + 1] = at[k] + _pad(f8_sizes[k], 8)
        at4 = np.zeros(len(f4_sizes) + 1, np.int64)
        for k in range(len(f4_sizes)):
            at4[k + 1] = at4[k] + _pad(f4_sizes[k], 16)
        f8 = _block(at[-1] + at4[-1] // 2)                       # the buffers below are views of it without
        f4, f8i = f8[at[-1]:].view(np.float32), f8.view(np.int64)  # a reference count (_view): passed to the
        st = _view(f8, at[0], (L, S))                            # inlined steps every step, views cost
        ret, n, total = _view(f8, at[1], L), _view(f8, at[2], L), _view(f8, at[3], L)  # two atomic operations
        net, episode, rows = _view(f8i, at[4], L), _view(f8i, at[5], L), _view(f8i, at[6], N)  # each there
        obs_flat = _view(f4, at4[0], L * d)
        obs = _view(f4, at4[0], (d, L))                          # by variable, then lane
        x, lw_in, lw_rec = _view(f4, at4[1], n_in * L), _view(f4, at4[2], n_in * NL), _view(f4, at4[3], N * NL)
        cur, v, s = _view(f4, at4[4], NL), _view(f4, at4[5], NL), _view(f4, at4[6], 2 * NL)  # s: [:NL] the
        lbias, lbeta, lthr, lfin = _view(f4, at4[7], NL), _view(f4, at4[8], NL), _view(f4, at4[9], NL), \
            _view(f4, at4[10], NL)                               # state's, [NL:] the next
        lalpha, lrho, lbad = _view(f4, at4[11], NL), _view(f4, at4[12], NL), _view(f4, at4[13], NL)
        isyn, adapt = _view(f4, at4[14], NL), _view(f4, at4[15], NL)  # cuba's i, alif's a
        cnt, lane_total = _view(f4, at4[16], C), _view(f4, at4[17], L)
        acts, scratch = _view(f4, at4[18], L), _view(f4, at4[19], 4 * L)  # actions, _mcc_lanes' scratch
        mthree, mgrav, mexact, mdone = _view(f4, at4[20], L), _view(f4, at4[21], L), _view(f4, at4[22], L), \
            _view(f4, at4[23], L)                                # _mcc_lanes' float32 lanes; mdone and
        mreward, trig = _view(f8, at[7], L), _view(f8, at[8], 4 * L)  # mreward: what the lanes' physics give;
                                                                 # trig: _observe's for _physics
        ended = _view(f8i, at[9], L)                            # 1: the lane's episode ended this step
        aw = _view(f8, at[10], PHYSICS_WORK * L)                 # the lanes' physics' work
        lthr[:] = np.inf
        acc = carray(stack_floats(ACC), (ACC,))
        net[:] = -1
        fields = centres.shape[1]
        zero = vsplat(f32(0.0))
        live, nxt = 0, 0                                         # jobs q = p * E + e, taken in order
        for l in range(L):
            if nxt < P * E:
                net[l], episode[l] = nxt // E, nxt % E
                _load_network(net[l], l, w_in, w_rec, bias, beta, thr, thr_fin, subtract, lw_in, lw_rec, lbias,
                              lbeta, lthr, lfin, alpha, rho, badapt, lalpha, lrho, lbad, NB)
                _start_episode(l, episode[l], start, st, v, s, isyn, adapt, N, trig)
                nxt += 1
                live += 1
        while live > 0:
            if stop[0] != 0:
                return
            if port == _PENDULUM:                                # sin and cos of every lane's angle at once
                for l in range(L):
                    aw[l] = st[l, 0]
                trig_lanes(aw, 0, L, 2 * L, 3 * L, L, replica)
                for l in range(L):
                    trig[l], trig[L + l] = aw[L + l], aw[2 * L + l]
            for l in range(L):
                if net[l] >= 0:
                    _observe(st, l, obs, trig)
            if population:                                       # Gaussian receptive fields
                for l in range(L):
                    if net[l] >= 0:
                        for i in range(d):
                            xi = np.float64(obs[i, l])
                            for k in range(fields):
                                z = (xi - centres[i, k]) / widths[i]
                                x[(i * fields + k) * L + l] = f32(_exp(-0.5 * z * z))
            else:                                                # (obs - offset) / scale
                for i in range(d):
                    vstore(x, i * L, vdiv(vsub(vload(obs_flat, i * L), vsplat(offset[i])), vsplat(scale[i])))
            for j0 in range(0, NB, BLOCK):                       # current = x @ W_in (a zero input adds 0)
                for u in range(BLOCK):
                    vstore(acc, u * L, zero)
                for k in range(n_in):
                    xk = vload(x, k * L)
                    for u in range(BLOCK):
                        vstore(acc, u * L, vadd(vload(acc, u * L), vmul(xk, vload(lw_in, (k * NB + j0 + u) * L))))
                for u in range(BLOCK):
                    vstore(cur, (j0 + u) * L, vload(acc, u * L))
            for j in range(n_out):
                vstore(cnt, j * L, zero)
            for t in range(sim_steps):
                if stop[0] != 0:
                    return
                old = (t % 2) * NL                               # s[t-1] at old, s[t] at new
                new = NL - old
                spiked = zero
                n_rows = 0                                       # the neurons that spiked in some lane at t-1
                for i in range(N):
                    rows[n_rows] = i
                    n_rows += vbits(vload(s, old + i * L)) != 0
                for j0 in range(0, NB, BLOCK):                   # BLOCK neurons at once: independent sums
                    for u in range(BLOCK):
                        vstore(acc, u * L, vadd(vload(cur, (j0 + u) * L), vload(lbias, (j0 + u) * L)))  # current + bias
                    for r in range(n_rows):                      # + W_rec rows of s[t-1], lowest first (a lane
                        i = rows[r]                              # without the spike adds nothing: a masked add)
                        si = vload(s, old + i * L)
                        for u in range(BLOCK):
                            a = vload(acc, u * L)
                            vstore(acc, u * L, vselect(si, vadd(a, vload(lw_rec, (i * NB + j0 + u) * L)), a))
                    for u in range(BLOCK):
                        j = j0 + u
                        I = vload(acc, u * L)
                        if CUBA:                                 # i = alpha * i + I; I = i
                            I = vadd(vmul(vload(lalpha, j * L), vload(isyn, j * L)), I)
                            vstore(isyn, j * L, I)
                        vj = vadd(vmul(vload(v, j * L), vload(lbeta, j * L)), I)  # v = beta * v + I
                        aj, fj = vload(lthr, j * L), vload(lfin, j * L)          # A = threshold
                        if ALIF:                                 # a = rho * a + s[t-1]; A = threshold + b * a
                            adj = vadd(vmul(vload(lrho, j * L), vload(adapt, j * L)), vload(s, old + j * L))
                            vstore(adapt, j * L, adj)
                            ba = vmul(vload(lbad, j * L), adj)
                            aj, fj = vadd(aj, ba), vadd(fj, ba)
                        sj = vgreater(vj, aj)                                     # s = v > A
                        if subtract:
                            vj = vsub(vj, vmul(fj, sj))                           # v - A * s
                        else:
                            vj = vsub(vj, vmul(vj, sj))                           # v - v * s = v * (1 - s)
                        vstore(v, j * L, vj)
                        vstore(s, new + j * L, sj)
                        spiked = vadd(spiked, sj)
                        if j < n_out:
                            vstore(cnt, j * L, vadd(vload(cnt, j * L), sj))
                vstore(lane_total, 0, vadd(vload(lane_total, 0), spiked))
            if sim_steps % 2 == 1:                               # the state's spikes back in front
                for f in range(0, NL, L):
                    vstore(s, f, vload(s, NL + f))
            if decoding == 0:
                _discrete_actions(cnt, v, n_out, acts)
            if port == _MCC or port == _PENDULUM or port == _DP or port == _DPNV:  # every lane's physics at once
                if decoding == 1:
                    vstore(acts, 0, vmul(vsub(vload(cnt, 0), vload(cnt, L)), vsplat(action_scale)))
                elif decoding == 2:
                    for l in range(L):
                        acts[l] = f32(_tanh(np.float64(v[l] - v[L + l]))) * action_scale
                else:
                    vstore(acts, 0, zero)
                if port == _MCC:
                    _mcc_lanes(st, acts, scratch, mthree, mgrav, mexact, mreward, mdone)
                elif port == _DP or port == _DPNV:
                    _dp_lanes(st, acts, aw, aw.shape[0] // PHYSICS_WORK, mreward, mdone, replica)
                else:
                    _pendulum_lanes(st, acts, trig, aw, aw.shape[0] // PHYSICS_WORK, mreward, mdone)
            elif port == _MOUNTAINCAR:
                _mountaincar_lanes(st, acts, decoding == 0, mreward, mdone, aw, aw.shape[0] // PHYSICS_WORK, replica)
            elif port == _ACROBOT:
                _acrobot_lanes(st, acts, decoding == 0, trig, aw, mreward, mdone, replica)
            elif port == _CARTPOLE:
                _cartpole_lanes(st, acts, decoding == 0, mreward, mdone, aw, aw.shape[0] // PHYSICS_WORK, replica)
            n_ended = 0
            for l in range(L):
                p = net[l]
                step_spikes = lane_total[l]
                lane_total[l] = 0.0
                if p < 0:
                    continue
                total[l] += step_spikes
                reward, terminated = mreward[l], mdone[l] != f32(0.0)  # every port's lanes stepped above
                ret[l] += reward
                n[l] += 1.0
                if terminated or n[l] >= max_steps:
                    ended[l] = 1
                    n_ended += 1
            if n_ended == 0:
                continue
            for l in range(L):                                   # lanes whose episode ended, in order (rare: a
                if ended[l] == 0:                                # loop of its own keeps the loop above lean)
                    continue
                ended[l] = 0
                p, e = net[l], episode[l]                        # the episode's results
                returns[p, e], steps[p, e], spikes[p, e] = ret[l], n[l], total[l]
                if keep_final:
                    for i in range(S):
                        final[p, e, i] = st[l, i]
                ret[l], n[l], total[l] = 0.0, 0.0, 0.0
                if nxt < P * E:                                  # the next job: mostly the same network
                    episode[l] = nxt % E
                    if nxt // E != p:
                        net[l] = nxt // E
                        _load_network(net[l], l, w_in, w_rec, bias, beta, thr, thr_fin, subtract, lw_in, lw_rec,
                                      lbias, lbeta, lthr, lfin, alpha, rho, badapt, lalpha, lrho, lbad, NB)
                    nxt += 1
                else:
                    net[l] = -1
                    live -= 1
                    continue
                _start_episode(l, episode[l], start, st, v, s, isyn, adapt, N, trig)
        f8[0] = st[0, 0]                                         # f8 lives until here, and with it the views

    port_globals = dict(globals(), _observe=_OBSERVE[port])  # port is in the closure:
    _episodes = types.FunctionType(_episodes.__code__, port_globals, _episodes.__name__, None,  # a cache key
                                   _episodes.__closure__)
    _kernels[key] = _jit(_episodes)
    return _kernels[key]


def replica_trig(port: str) -> bool:
    """Whether ``port``'s kernel takes its sines and cosines from tasks.lane_trig's
    vectorized replica of the C library (where it gives the library's bits here)."""
    if port in TRIG_PORTS:
        return lane_trig.library_agrees()
    return port in NEAR_TRIG_PORTS and lane_trig.near_agrees()


def rollout(nets: NetworkBatch, port: str, start: np.ndarray, *, encoding: str, scale, offset, fields: int,
            decoding: str, action_scale: float, max_steps: int, sim_steps: int, reset: str,
            final_state: bool = False, stop: np.ndarray | None = None):
    """Play every network's episodes from ``start`` (E, S) on ``port`` in compiled code.

    Returns (returns, steps, total spikes, final states or None), each (P, E) (final: (P, E, S)).
    ``encoding``: direct or population (``fields`` per variable over offset +- scale);
    ``decoding``: count_then_voltage, rate or membrane, with ``action_scale`` the factor of
    the last two (max_action / sim_steps for rate, max_action for membrane). ``stop``: an
    int64 array of one element that another thread may set to 1 to end the call early, its
    results then incomplete (see ``tasks.closed_loop``)."""
    if port not in PORTS:
        raise ValueError(f"port: {port!r}; compiled rollouts exist for {', '.join(PORTS)}")
    if encoding not in ENCODINGS or decoding not in DECODINGS:
        raise ValueError(f"encoding {encoding!r} / decoding {decoding!r}; compiled rollouts take "
                         f"{', '.join(ENCODINGS)} / {', '.join(DECODINGS)}")
    if nets.has_delays:
        raise ValueError(f"nets: {WITHOUT_DELAYS}; play them with rollout 'numpy'")
    P, E = nets.n_networks, start.shape[0]
    scale32 = np.ascontiguousarray(scale, np.float32)
    offset32 = np.ascontiguousarray(np.broadcast_to(np.asarray(offset, np.float32), scale32.shape))
    if encoding == "population":  # the fields of ObservationEncoder (neurons.encoders.gaussian_fields)
        centres, widths = field_centres(offset32 - scale32, offset32 + scale32, int(fields))
    else:
        centres, widths = np.zeros((scale32.shape[0], 1)), np.ones(scale32.shape[0])
    start = np.ascontiguousarray(start, np.float64)
    returns, steps, spikes = np.zeros((P, E)), np.zeros((P, E)), np.zeros((P, E))
    final = np.zeros((P, E, start.shape[1])) if final_state else np.zeros((0, 0, 0))
    kernel = _kernel(PORTS.index(port), DECODINGS.index(decoding), encoding == "population", reset == "subtract",
                     MODELS.index(nets.model), block_size(nets.n_neurons))
    none = np.zeros((0, 0), np.float32)
    kernel(start, int(max_steps), int(sim_steps), nets.w_in, nets.w_rec, nets.bias, nets.beta, nets.threshold,
           _finite_thresholds(nets), none if nets.alpha is None else nets.alpha,
           none if nets.rho is None else nets.rho, none if nets.b is None else nets.b, nets.n_out, scale32, offset32, np.ascontiguousarray(centres),
           np.ascontiguousarray(widths), np.float32(action_scale), returns, steps, spikes, final, bool(final_state),
           np.zeros(1, np.int64) if stop is None else stop, replica_trig(port))
    return returns, steps, spikes, (final if final_state else None)
