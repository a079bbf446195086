"""NEAT variation operators on a whole population of arrays at once.

Each operator takes the population, a random generator and a boolean ``rows`` mask (the
genomes it may change: elites are left alone) and returns the changed population. Every
random draw has a fixed shape, so the result depends only on the generator's state.
Operators may change ``pop``'s arrays in place; pass them fresh children.

Connection delays (``pop.delay``) travel with their genes: crossover takes a gene's delay
from the parent its weight comes from, new connections get the default delay (0 from an
input, 1 between neurons), removed genes go back to the default, and only
:func:`mutate_delays` changes them otherwise.
"""
from __future__ import annotations

import numpy as np

from .innovations import InnovationRegistry
from .population import NeatPopulation

__all__ = ["crossover", "mutate_weights", "mutate_neurons", "mutate_delays", "add_connection", "add_node",
           "toggle_connections", "delete_connection", "delete_node", "pick"]


def pick(mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly random True column per row of ``mask`` (R, X): (column, row has one)."""
    u = rng.random(mask.shape)
    col = np.argmax(np.where(mask, u, -1.0), axis=1) if mask.shape[1] else np.zeros(mask.shape[0], np.int64)
    return col, mask.any(axis=1)


def crossover(pop: NeatPopulation, a: np.ndarray, b: np.ndarray, fitness: np.ndarray,
              rng: np.random.Generator, disable_rate: float = 0.75) -> NeatPopulation:
    """Children of parents ``a[i]`` and ``b[i]``, genes aligned by innovation number.

    The child has exactly the fitter parent's genes (ties: parent a). A gene both parents
    have takes its weight and delay (or a node its parameters) from either parent at random, and is
    disabled with probability ``disable_rate`` if either parent has it disabled. Where
    ``a[i] == b[i]`` the child is a copy.
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    fa_ge = fitness[a] >= fitness[b]
    fit, oth = np.where(fa_ge, a, b), np.where(fa_ge, b, a)
    C = a.size
    cross = (a != b)[:, None]
    child = pop.take(fit)
    match = child.present & pop.present[oth] & cross
    take_other = match & (rng.random(match.shape) < 0.5)
    child.weight = np.where(take_other, pop.weight[oth], child.weight)
    child.delay = np.where(take_other, pop.delay[oth], child.delay)
    either_off = match & ~(child.enabled & pop.enabled[oth])
    off = either_off & (rng.random(match.shape) < disable_rate)
    child.enabled = np.where(either_off, ~off, child.enabled)
    nmatch = child.node_present & pop.node_present[oth] & cross
    take_n = nmatch & (rng.random(nmatch.shape) < 0.5)
    for name in ("threshold", "beta", "bias"):
        setattr(child, name, np.where(take_n, getattr(pop, name)[oth], getattr(child, name)))
    assert child.present.shape[0] == C
    return child


def mutate_weights(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *, rate: float,
                   power: float, replace_rate: float, init_std: float, limit: float) -> NeatPopulation:
    """Each connection weight: with probability ``rate`` add N(0, power); with probability
    ``replace_rate`` draw it afresh from N(0, init_std). Weights stay within +-``limit``."""
    shape = pop.weight.shape
    m = pop.present & rows[:, None]
    perturb = m & (rng.random(shape) < rate)
    fresh = m & (rng.random(shape) < replace_rate)
    w = pop.weight + np.where(perturb, rng.normal(0.0, power, shape), 0.0)
    w = np.where(fresh, rng.normal(0.0, init_std, shape), w)
    pop.weight = np.clip(w, -limit, limit)
    return pop


def mutate_neurons(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *, rate: float,
                   threshold_power: float, beta_power: float, bias_power: float) -> NeatPopulation:
    """Each neuron parameter, with probability ``rate``: threshold times exp(N(0, threshold_power))
    (stays > 0), beta moved by N(0, beta_power) in logit space (stays in (0, 1)), bias plus
    N(0, bias_power)."""
    shape = pop.threshold.shape
    m = pop.node_present & rows[:, None]
    for name, power in (("threshold", threshold_power), ("beta", beta_power), ("bias", bias_power)):
        hit = m & (rng.random(shape) < rate)
        step = np.where(hit, rng.normal(0.0, power, shape), 0.0)
        if name == "threshold":
            new = np.clip(pop.threshold * np.exp(step), 1e-3, 1e3)
        elif name == "beta":
            logit = np.log(pop.beta) - np.log1p(-pop.beta)
            new = 1.0 / (1.0 + np.exp(-np.clip(logit + step, -12.0, 12.0)))
        else:
            new = pop.bias + step
        setattr(pop, name, np.where(hit, new, getattr(pop, name)))  # untouched genes keep their exact bits
    return pop


def mutate_delays(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *, rate: float,
                  max_delay: int) -> NeatPopulation:
    """Each connection delay, with probability ``rate``: one step longer or shorter (equal odds),
    clipped to its range (0 .. ``max_delay`` from an input, 1 .. ``max_delay`` between neurons)."""
    shape = pop.delay.shape
    m = pop.present & rows[:, None]
    hit = m & (rng.random(shape) < rate)
    step = np.where(rng.random(shape) < 0.5, -1, 1)
    low = pop.default_delays()[None, :]
    moved = np.clip(pop.delay + step, low, np.maximum(low, int(max_delay)))
    pop.delay = np.where(hit, moved, pop.delay).astype(pop.delay.dtype)
    return pop


def _reaches(pop: NeatPopulation, rows: np.ndarray) -> np.ndarray:
    """(R, K, K) bool: node column a reaches node column b along present connections (a == b too)."""
    K = pop.node.size
    R = rows.size
    adj = np.zeros((R, K, K), bool)
    hid = pop.src >= pop.n_in
    cols_s = pop.node_columns(pop.src[hid])
    cols_d = pop.node_columns(pop.dst[hid])
    pres = pop.present[rows][:, hid]
    r, l = np.nonzero(pres)
    adj[r, cols_s[l], cols_d[l]] = True
    reach = adj | np.eye(K, dtype=bool)[None]
    for _ in range(max(1, int(np.ceil(np.log2(max(K, 2)))))):
        reach = reach | (np.matmul(reach.astype(np.float32), reach.astype(np.float32)) > 0)
    return reach


def add_connection(pop: NeatPopulation, registry: InnovationRegistry, rng: np.random.Generator,
                   rows: np.ndarray, *, prob: float, recurrent: bool, init_std: float) -> NeatPopulation:
    """With probability ``prob`` per genome, connect a random source (an input or any of its
    neurons) to a random neuron, with weight N(0, init_std) and the default delay (0 from an
    input, 1 from a neuron). Nothing happens if the
    connection exists already or, without ``recurrent``, if it would close a cycle."""
    P, n_in = len(pop), pop.n_in
    go = rows & (rng.random(P) < prob)
    src_pick, _ = pick(np.concatenate([np.ones((P, n_in), bool), pop.node_present], axis=1), rng)
    dst_col, _ = pick(pop.node_present, rng)
    g = np.flatnonzero(go)
    if not g.size:
        return pop
    s_pick, d_col = src_pick[g], dst_col[g]
    src = np.where(s_pick < n_in, s_pick, pop.node[np.maximum(s_pick - n_in, 0)])
    dst = pop.node[d_col]
    if not recurrent:
        reach = _reaches(pop, g)
        s_col = np.maximum(s_pick - n_in, 0)
        cycle = (s_pick >= n_in) & reach[np.arange(g.size), d_col, s_col]
        keep = ~cycle
        g, src, dst = g[keep], src[keep], dst[keep]
        if not g.size:
            return pop
    innov = registry.connections(src, dst)
    pop = pop.with_connections(innov, src, dst)
    col = pop.conn_columns(innov)
    new = ~pop.present[g, col]
    g, col = g[new], col[new]
    pop.present[g, col] = True
    pop.enabled[g, col] = True
    pop.weight[g, col] = rng.normal(0.0, init_std, g.size)
    pop.delay[g, col] = pop.default_delays(pop.src[col])
    return pop


def add_node(pop: NeatPopulation, registry: InnovationRegistry, rng: np.random.Generator, rows: np.ndarray,
             *, prob: float, defaults: tuple[float, float, float], in_weight: float) -> NeatPopulation:
    """With probability ``prob`` per genome, split a random enabled connection a -> b: it is
    disabled, and a new neuron n (threshold, beta, bias = ``defaults``) gets a -> n with
    weight ``in_weight * threshold`` (one presynaptic spike fires it) and n -> b with the
    old weight. Delays: a -> n gets the default (0 from an input, 1 from a neuron), n -> b
    the old delay (at least 1), so the path's total delay grows by at most one step (by
    exactly one, as without delays, unless a is an input with a delay >= 1)."""
    P = len(pop)
    go = rows & (rng.random(P) < prob)
    col, has = pick(pop.enabled, rng)
    g = np.flatnonzero(go & has)
    if not g.size:
        return pop
    col = col[g]
    src, dst, old_w, split = pop.src[col], pop.dst[col], pop.weight[g, col], pop.innov[col]
    old_d = np.maximum(pop.delay[g, col], 1)
    node, i_in, i_out = registry.split(split, src, dst)
    pop = pop.with_nodes(node, *defaults)
    ncol = pop.node_columns(node)
    fresh = ~pop.node_present[g, ncol]  # a genome that already has this node skips the split
    g, split, src, dst, old_w, old_d, node, i_in, i_out, ncol = (
        x[fresh] for x in (g, split, src, dst, old_w, old_d, node, i_in, i_out, ncol))
    if not g.size:
        return pop
    pop = pop.with_connections(np.concatenate([i_in, i_out]), np.concatenate([src, node]),
                               np.concatenate([node, dst]))
    pop.enabled[g, pop.conn_columns(split)] = False
    pop.node_present[g, ncol] = True
    pop.threshold[g, ncol], pop.beta[g, ncol], pop.bias[g, ncol] = defaults
    c_in, c_out = pop.conn_columns(i_in), pop.conn_columns(i_out)
    pop.present[g, c_in] = pop.enabled[g, c_in] = True
    pop.weight[g, c_in] = in_weight * defaults[0]
    pop.delay[g, c_in] = pop.default_delays(src)
    pop.present[g, c_out] = pop.enabled[g, c_out] = True
    pop.weight[g, c_out] = old_w
    pop.delay[g, c_out] = old_d
    return pop


def toggle_connections(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *,
                       enable_rate: float, disable_rate: float) -> NeatPopulation:
    """Each disabled connection is enabled with probability ``enable_rate``; each enabled one
    is disabled with probability ``disable_rate``."""
    shape = pop.present.shape
    m = pop.present & rows[:, None]
    on = m & ~pop.enabled & (rng.random(shape) < enable_rate)
    off = m & pop.enabled & (rng.random(shape) < disable_rate)
    pop.enabled = (pop.enabled | on) & ~off
    return pop


def delete_connection(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *,
                      prob: float) -> NeatPopulation:
    """With probability ``prob`` per genome, remove one of its connections at random."""
    go = rows & (rng.random(len(pop)) < prob)
    col, has = pick(pop.present, rng)
    g = np.flatnonzero(go & has)
    col = col[g]
    pop.present[g, col] = False
    pop.enabled[g, col] = False
    pop.weight[g, col] = 0.0
    pop.delay[g, col] = pop.default_delays(pop.src[col])
    return pop


def delete_node(pop: NeatPopulation, rng: np.random.Generator, rows: np.ndarray, *,
                prob: float) -> NeatPopulation:
    """With probability ``prob`` per genome, remove one hidden neuron at random and every
    connection to or from it. Outputs are never removed."""
    go = rows & (rng.random(len(pop)) < prob)
    col, has = pick(pop.node_present & pop.is_hidden[None, :], rng)
    g = np.flatnonzero(go & has)
    if not g.size:
        return pop
    ids = pop.node[col[g]]
    pop.node_present[g, col[g]] = False
    touch = (pop.src[None, :] == ids[:, None]) | (pop.dst[None, :] == ids[:, None])  # (G, L)
    pop.present[g] &= ~touch
    pop.enabled[g] &= ~touch
    pop.weight[g] = np.where(touch, 0.0, pop.weight[g])
    pop.delay[g] = np.where(touch, pop.default_delays()[None, :], pop.delay[g])
    return pop
