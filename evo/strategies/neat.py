"""NEAT (Stanley & Miikkulainen 2002) on arrays, behind the same ask/tell as CMA-ES.

One generation, in ``tell``:

1. speciate the evaluated population (``evo.neat.species``), then move the compatibility
   threshold by ``threshold_step`` towards ``target_species`` species (0 keeps it fixed);
2. stagnation: a species whose best fitness has not improved for ``stagnation``
   generations is removed, except the species holding the population's best genome;
3. explicit fitness sharing: a species' share of the next population is proportional to
   its members' mean fitness (shifted so the worst genome scores 0), rounded by largest
   remainder; the best species always gets at least one place;
4. in each species the best ``elitism`` genomes are copied unchanged; the other children
   come from the top ``survival`` fraction: crossover of two of them with probability
   ``crossover_rate``, otherwise a copy of one, then mutation
   (``evo.neat.operators``: add node, add connection, delete connection, delete node,
   enable/disable, weights, neuron parameters, and with ``genome.max_delay`` >= 1 delays:
   each connection's delay moves by one step with probability ``delay_rate``).

With delays, compatibility distance adds ``c_delay`` times the mean absolute delay
difference of matching connections. Without (``genome.max_delay`` 0) no delay option draws
a random number or changes a distance, so runs are those of a NEAT without delays.

Randomness: generation g draws from SeedSequence(seed, spawn_key=(g + 1,)), the initial
population from spawn_key (0,). The saved state is therefore complete without a generator
state: population, species, representatives, innovation registry, threshold and counters,
as JSON plus npz arrays.
"""
from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from ..errors import StrategyError
from ..genomes.neat import InnovationRegistry, NeatPopulation, NeatSpace
from ..genomes.neat import operators as ops
from ..genomes.neat.species import align, assign_species
from ..seeding import stream
from .base import Strategy, check_gene_option

__all__ = ["NEAT"]

_RATES = ("crossover_rate", "survival", "weight_rate", "weight_replace", "neuron_rate", "add_connection",
          "add_node", "delete_connection", "delete_node", "enable_rate", "disable_rate", "disable_inherit",
          "delay_rate")


class NEAT(Strategy):
    """NEAT-style evolution of spiking topologies; fitness is maximized."""

    name = "neat"
    genome_space = "neat"

    def __init__(self, space: NeatSpace, *, seed: int, population: int = 150,
                 compatibility_threshold: float = 3.0, target_species: int = 10, threshold_step: float = 0.3,
                 c_excess: float = 1.0, c_disjoint: float = 1.0, c_weight: float = 0.4, c_neuron: float = 0.4,
                 elitism: int = 1, survival: float = 0.2, stagnation: int = 15, crossover_rate: float = 0.75,
                 weight_rate: float = 0.8, weight_power: float = 0.5, weight_replace: float = 0.1,
                 weight_limit: float = 8.0, neuron_rate: float = 0.2, threshold_power: float = 0.2,
                 beta_power: float = 0.5, bias_power: float = 0.2, add_connection: float = 0.3,
                 add_node: float = 0.1, delete_connection: float = 0.05, delete_node: float = 0.02,
                 enable_rate: float = 0.01, disable_rate: float = 0.01, disable_inherit: float = 0.75,
                 split_weight: float = 1.5, delay_rate: float = 0.1, c_delay: float = 0.5) -> None:
        if not isinstance(space, NeatSpace):
            raise StrategyError(f"neat: needs a NEAT genome space, got {type(space).__name__}")
        opts = dict(population=population, compatibility_threshold=compatibility_threshold,
                    target_species=target_species, threshold_step=threshold_step, c_excess=c_excess,
                    c_disjoint=c_disjoint, c_weight=c_weight, c_neuron=c_neuron, elitism=elitism,
                    survival=survival, stagnation=stagnation, crossover_rate=crossover_rate,
                    weight_rate=weight_rate, weight_power=weight_power, weight_replace=weight_replace,
                    weight_limit=weight_limit, neuron_rate=neuron_rate, threshold_power=threshold_power,
                    beta_power=beta_power, bias_power=bias_power, add_connection=add_connection,
                    add_node=add_node, delete_connection=delete_connection, delete_node=delete_node,
                    enable_rate=enable_rate, disable_rate=disable_rate, disable_inherit=disable_inherit,
                    split_weight=split_weight, delay_rate=delay_rate, c_delay=c_delay)
        self._check(opts)
        if not space.max_delay:  # the delay options act only on delays; their defaults stay accepted (recorded runs)
            defaults = inspect.signature(NEAT.__init__).parameters
            for k in ("delay_rate", "c_delay"):
                if opts[k] != defaults[k].default:
                    raise StrategyError(f"strategy.{k}: {opts[k]} changes nothing without delays (genome.max_delay "
                                        f"is 0); set genome.max_delay to evolve them")
        self.options = opts
        self.space, self.seed = space, int(seed)
        self.population_size = int(population)
        self.generation = 0
        self.threshold = float(compatibility_threshold)
        self.registry = InnovationRegistry(space.n_in, space.n_out)
        self._pop = space.initial(self.population_size, self._rng(0), self.registry)
        self.reps = space.empty(0)
        self.rep_ids = np.zeros(0, np.int64)
        self.next_species = 0
        # per species id: best fitness so far, generation it last improved
        self.species_best: dict[int, float] = {}
        self.species_improved: dict[int, int] = {}
        self.last_species: np.ndarray | None = None

    @staticmethod
    def _check(o: dict) -> None:
        if isinstance(o["population"], bool) or int(o["population"]) < 2:
            raise StrategyError(f"strategy.population: {o['population']}; expected an integer >= 2")
        for k in _RATES:
            if not 0 <= o[k] <= 1:
                raise StrategyError(f"strategy.{k}: {o[k]}; expected a probability in [0, 1]")
        if not o["compatibility_threshold"] > 0:
            raise StrategyError(f"strategy.compatibility_threshold: {o['compatibility_threshold']}; expected a value > 0")
        for k in ("weight_limit", "weight_power", "bias_power", "split_weight"):  # weights and biases are float32
            check_gene_option(k, o[k])
        for k in ("threshold_power", "beta_power"):
            if not 0 < o[k] < np.inf:
                raise StrategyError(f"strategy.{k}: {o[k]}; expected a finite value > 0")
        for k in ("threshold_step", "c_excess", "c_disjoint", "c_weight", "c_neuron", "c_delay"):
            if not o[k] >= 0:
                raise StrategyError(f"strategy.{k}: {o[k]}; expected a value >= 0")
        for k in ("target_species", "elitism", "stagnation"):
            if int(o[k]) < 0:
                raise StrategyError(f"strategy.{k}: {o[k]}; expected an integer >= 0")
        if o["survival"] == 0:
            raise StrategyError("strategy.survival: 0; expected a fraction in (0, 1]")

    def _rng(self, key: int) -> np.random.Generator:
        return stream(self.seed, key)

    @property
    def coefficients(self) -> tuple[float, float, float, float, float]:
        """(c_excess, c_disjoint, c_weight, c_neuron, c_delay); c_delay is 0 without delays."""
        o = self.options
        return (o["c_excess"], o["c_disjoint"], o["c_weight"], o["c_neuron"],
                o["c_delay"] if self.space.max_delay else 0.0)

    # ---- ask / tell ------------------------------------------------------------------------
    def ask(self) -> NeatPopulation:
        return self._pop

    def _tell(self, population: NeatPopulation, fitness: np.ndarray) -> None:
        if population is not self._pop:
            raise StrategyError("neat: tell() needs the population that ask() returned")
        P = len(population)
        o, space = self.options, self.space
        rng = self._rng(self.generation + 1)
        species, reps, rep_ids, self.next_species = assign_species(
            population, self.reps, self.rep_ids, self.next_species, self.threshold, self.coefficients,
            space.defaults)
        self.last_species = species
        ids = np.unique(species)
        if o["target_species"]:
            if ids.size < o["target_species"]:
                self.threshold = max(o["threshold_step"], self.threshold - o["threshold_step"])
            elif ids.size > o["target_species"]:
                self.threshold += o["threshold_step"]

        # stagnation (never the species of the best genome)
        best_species = int(species[int(np.argmax(fitness))])
        alive = []
        for s in ids.tolist():
            top = float(fitness[species == s].max())
            if s not in self.species_best or top > self.species_best[s]:
                self.species_best[s], self.species_improved[s] = top, self.generation
            if s == best_species or self.generation - self.species_improved[s] < o["stagnation"] or not o["stagnation"]:
                alive.append(s)
        for s in list(self.species_best):
            if s not in alive:
                del self.species_best[s], self.species_improved[s]
        keep = np.isin(rep_ids, alive)
        self.reps, self.rep_ids = reps.take(np.flatnonzero(keep)), rep_ids[keep]

        # offspring per species: explicit fitness sharing
        shifted = fitness - fitness.min()
        share = np.array([shifted[species == s].mean() for s in alive])
        share = np.ones(len(alive)) if share.sum() <= 0 else share
        raw = P * share / share.sum()
        counts = np.floor(raw).astype(np.int64)
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[: P - counts.sum()]] += 1
        b_i = alive.index(best_species)
        if counts[b_i] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[b_i] += 1

        # parents
        a_list, b_list, elite_list = [], [], []
        for s, c in zip(alive, counts.tolist()):
            if c == 0:
                continue
            members = np.flatnonzero(species == s)
            members = members[np.argsort(-fitness[members], kind="stable")]
            n_elite = min(int(o["elitism"]), c, members.size)
            surv = members[: max(1, math.ceil(o["survival"] * members.size))]
            n_child = c - n_elite
            a = surv[rng.integers(0, surv.size, n_child)]
            mate = surv[rng.integers(0, surv.size, n_child)]
            b = np.where(rng.random(n_child) < o["crossover_rate"], mate, a)
            a_list += [members[:n_elite], a]
            b_list += [members[:n_elite], b]
            elite_list += [np.ones(n_elite, bool), np.zeros(n_child, bool)]
        a, b, elite = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(elite_list)

        child = ops.crossover(population, a, b, fitness, rng, o["disable_inherit"])
        rows = ~elite
        reg, d = self.registry, space.defaults
        child = ops.add_node(child, reg, rng, rows, prob=o["add_node"], defaults=d, in_weight=o["split_weight"])
        child = ops.add_connection(child, reg, rng, rows, prob=o["add_connection"], recurrent=space.recurrent,
                                   init_std=space.weight_std)
        child = ops.delete_connection(child, rng, rows, prob=o["delete_connection"])
        child = ops.delete_node(child, rng, rows, prob=o["delete_node"])
        child = ops.toggle_connections(child, rng, rows, enable_rate=o["enable_rate"],
                                       disable_rate=o["disable_rate"])
        child = ops.mutate_weights(child, rng, rows, rate=o["weight_rate"], power=o["weight_power"],
                                   replace_rate=o["weight_replace"], init_std=space.weight_std,
                                   limit=o["weight_limit"])
        child = ops.mutate_neurons(child, rng, rows, rate=o["neuron_rate"], threshold_power=o["threshold_power"],
                                   beta_power=o["beta_power"], bias_power=o["bias_power"])
        if space.max_delay:
            child = ops.mutate_delays(child, rng, rows, rate=o["delay_rate"], max_delay=space.max_delay)
        # keep the representatives in the population's column layout: one alignment per generation
        self._pop, self.reps = align(child.compact(), self.reps, space.defaults)

    @property
    def n_species(self) -> int:
        return 0 if self.last_species is None else int(np.unique(self.last_species).size)

    # ---- saved state -----------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        reg_meta, reg_arrays = self.registry.state()
        meta = {"strategy": self.name, "seed": self.seed, "options": self.options,
                "space": {"n_in": self.space.n_in, "n_out": self.space.n_out, **self.space.config()},
                "generation": self.generation, "threshold": self.threshold, "next_species": self.next_species,
                "species": {str(s): [self.species_best[s], self.species_improved[s]] for s in self.species_best},
                "registry": reg_meta}
        arrays = {**self._pop.arrays("pop_"), **self.reps.arrays("rep_"), "rep_ids": self.rep_ids,
                  **reg_arrays}
        if self.last_species is not None:
            arrays["last_species"] = self.last_species
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "NEAT":
        try:
            sp = dict(meta["space"])
            space = NeatSpace(sp.pop("n_in"), sp.pop("n_out"), **sp)
            opts = dict(meta["options"])  # delay options a run recorded without delays: inert, kept as recorded
            inert = {} if space.max_delay else {k: opts.pop(k) for k in ("delay_rate", "c_delay") if k in opts}
            es = cls(space, seed=meta["seed"], **opts)
            es.options.update(inert)
            es.generation = int(meta["generation"])
            es.threshold = float(meta["threshold"])
            es.next_species = int(meta["next_species"])
            es.species_best = {int(k): float(v[0]) for k, v in meta["species"].items()}
            es.species_improved = {int(k): int(v[1]) for k, v in meta["species"].items()}
            es.registry = InnovationRegistry.from_state(space.n_in, space.n_out, meta["registry"], arrays)
            es._pop = NeatPopulation.from_arrays(space.n_in, space.n_out, arrays, "pop_")
            es.reps = NeatPopulation.from_arrays(space.n_in, space.n_out, arrays, "rep_")
            es.rep_ids = np.asarray(arrays["rep_ids"], np.int64)
            es.last_species = np.asarray(arrays["last_species"], np.int64) if "last_species" in arrays else None
            es._pop.check()
            es.reps.check()
            for pop in (es._pop, es.reps):
                if np.any(pop.delay > np.maximum(pop.default_delays(), space.max_delay)[None, :]):
                    raise StrategyError(f"neat state: a delay exceeds genome.max_delay = {space.max_delay}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, StrategyError):
                raise
            raise StrategyError(f"neat state: missing or malformed field ({type(exc).__name__}: {exc})") from None
        if len(es._pop) != es.population_size or len(es.reps) != es.rep_ids.size:
            raise StrategyError("neat state: population or species arrays do not match the saved options")
        return es
