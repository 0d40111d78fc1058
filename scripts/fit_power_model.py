"""Fit the machine power model on SPEC power_ssj2008 results; write carbon_magic/data/power_model.json.

    python scripts/fit_power_model.py [CSV] [--out FILE]

CSV defaults to data-sources/specpower/specpower_ssj2008.csv (437 servers; SPEC power_ssj2008
results as parsed by green-coding-solutions/cloud-energy, MIT), FILE to the packaged table.
Needs numpy (the fit only: the package evaluates the table in plain Python). Deterministic:
the same CSV gives the same table, which tests/test_power_model.py checks.

What it fits (docs/power-model.md explains why):
- which terms: ``BASE_TERMS`` and the ``CANDIDATE_TERMS`` that forward selection adds while an
  inner cross-validation on the fitted servers only (5 folds grouped by CPU model) finds that
  they lower its median absolute error by 0.1 point or more; in the validation this selection
  runs inside each training fold (nested), so a fold's choice never sees its test servers;
- per load level (active idle, 10 % ... 100 %): log(wall W) = terms . coefficients, least
  absolute deviations (the median in log W), the terms of
  ``carbon_magic.core.power_model.model_terms``; the range of each fact in the data (the model
  clamps facts to it);
- per load level, whether to add an offset per CPU microarchitecture (one indicator column per
  microarchitecture of the fitted servers, fitted jointly with the terms, ridge-penalised towards
  0) and how strongly to shrink it: the choice among ``GENERATION_PENALTIES`` (or none) with the
  lowest inner cross-validated median absolute error at that level, on the fitted servers only
  (nested in the validation, as the term selection);
- RAM W per GB = r x exp(g x (launch year - 2012)), one figure for all loads: the slope of the
  mean wall W over the levels against RAM GB among servers of the same CPU model and sockets
  (within-group least squares: what more RAM adds to otherwise alike servers), with the yearly
  change g that fits best (a grid of 0.01 steps);
- the CPU / platform split, per load level: wall W ~ a x sockets + b x sockets x TDP (least
  squares on relative errors, no intercept: platform, cpu);
- the fallbacks for a CPU missing from the tables: the median TDP per core, and the latest
  launch year of the data; the median TDP per socket (the typical socket of the guest model);
- the validation: the same fit, cross-validated in folds grouped by CPU model (a fold's CPU
  models are never in its training data), evaluated by the package's own code at every level.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from carbon_magic.core.cpu_catalog import cpu_generation, lookup_tdp, normalise_cpu_name  # noqa: E402
from carbon_magic.core.power_model import (  # noqa: E402
    BASE_TERMS, CANDIDATE_TERMS, FITTED_FACTS, REFERENCE_YEAR, bounded_facts, machine_power_model, model_terms,
)

SOURCE_CSV = REPO / "data-sources" / "specpower" / "specpower_ssj2008.csv"
OUT = REPO / "carbon_magic" / "data" / "power_model.json"
LOAD_COLUMNS = ("idle_w",) + tuple(f"load{percent}_w" for percent in range(10, 101, 10))
LOAD_LEVELS = tuple(percent / 100 for percent in range(0, 101, 10))
FOLDS = 10
INNER_FOLDS = 5
# Forward selection adds a candidate term while it lowers the inner cross-validated median
# absolute error by at least this much (0.1 point).
SELECTION_GAIN = 0.001
# Least absolute deviations by iteratively reweighted least squares: its iterations, and the
# smallest residual (in log W) a weight divides by.
LAD_ITERATIONS = 50
LAD_SMALLEST_RESIDUAL = 1e-3
# The ridge penalties on the microarchitecture offsets that the inner cross-validation chooses
# from, per level (besides no offsets); in units of the least-absolute-deviations objective
# (the sum of |log W residuals|): at 100, an offset of 0.1 (10 %) costs as much as a 1 % error
# on each of 100 servers.
GENERATION_PENALTIES = (1.0, 3.0, 10.0, 30.0, 100.0)
COVERAGE_PERCENT = 90
SIGNIFICANT_DIGITS = 6
# The yearly log changes of RAM W per GB that ram_model tries (its default grid).
YEARLY_STEPS = np.arange(-0.5, 0.005, 0.01)


@dataclass(frozen=True)
class Server:
    """One SPEC result: the facts the model may use, and the measured wall power per level."""

    cpu_model: str
    cpu_group: str
    sockets: int
    cores: int
    threads: int
    ram_gb: float
    tdp_w: float | None
    launch_year: int | None
    microarchitecture: str | None
    power_w: tuple[float, ...]

    def facts(self) -> dict[str, Any]:
        """The arguments of ``machine_power_model`` for this server."""
        return {"cpu_model": self.cpu_model, "sockets": self.sockets, "cores": self.cores,
                "threads": self.threads, "ram_gb": self.ram_gb, "tdp_w": self.tdp_w}


def load_servers(path: Path = SOURCE_CSV) -> list[Server]:
    """The servers of the CSV. TDP: the CPU table's where it has the CPU, else the CSV's."""
    servers = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            match = lookup_tdp(row["cpu_name"])
            generation = cpu_generation(row["cpu_name"])
            csv_tdp = float(row["tdp_w_per_chip"]) if row["tdp_w_per_chip"] else None
            servers.append(Server(
                cpu_model=row["cpu_name"],
                cpu_group=match.name if match else normalise_cpu_name(row["cpu_name"]),
                sockets=int(row["cpu_chips"]), cores=int(row["cpu_cores"]), threads=int(row["cpu_threads"]),
                ram_gb=float(row["ram_gb"]), tdp_w=None if match else csv_tdp,
                launch_year=generation.launch_year if generation else None,
                microarchitecture=generation.microarchitecture if generation else None,
                power_w=tuple(float(row[column]) for column in LOAD_COLUMNS)))
    return servers


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def fit_fallbacks(servers: list[Server]) -> dict[str, Any]:
    """For CPUs missing from the tables: the median TDP per core, and the latest launch year;
    for guests of partly named hosts, the median TDP per socket."""
    known = [(s, s.tdp_w or lookup_tdp(s.cpu_model).tdp_w) for s in servers if s.tdp_w or lookup_tdp(s.cpu_model)]
    return {"tdp_w_per_core": _round(float(np.median([tdp / (s.cores / s.sockets) for s, tdp in known]))),
            "typical_tdp_w_per_socket": _round(float(np.median([tdp for _, tdp in known]))),
            "launch_year_unknown": max(s.launch_year for s in servers if s.launch_year is not None)}


def _facts(servers: list[Server], fallbacks: dict[str, Any]) -> list[dict[str, float]]:
    """The ``FITTED_FACTS`` of each server, through the package's own TDP and launch year choices."""
    unbounded = {name: [-math.inf, math.inf] for name in FITTED_FACTS}
    stub = {"fallbacks": fallbacks, "load_levels": list(LOAD_LEVELS), "fitted_ranges": unbounded, "features": [],
            "log_power_coefficients": [], "generation_offsets": [], "split_coefficients": []}
    facts = []
    for server in servers:
        model = machine_power_model(**server.facts(), table=stub)
        facts.append({"sockets": server.sockets, "tdp_w_per_socket": model.tdp_w_per_socket, "cores": server.cores,
                      "threads": server.threads, "ram_gb": server.ram_gb, "launch_year": model.launch_year})
    return facts


def ram_model(servers: list[Server], yearly_steps: np.ndarray = YEARLY_STEPS) -> dict[str, float]:
    """RAM W per GB at 2012 and its yearly log change, from servers alike but for their RAM.

    Within each group of one CPU model and socket count, the mean wall W over the levels is
    regressed on RAM GB x exp(g x (launch year - 2012)); g is the grid value with the least
    squared error, the slope r the W per GB at 2012.
    """
    groups: dict[tuple[str, int], list[Server]] = {}
    for server in servers:
        groups.setdefault((server.cpu_group, server.sockets), []).append(server)
    alike = [[(s.ram_gb, s.launch_year - REFERENCE_YEAR, float(np.mean(s.power_w))) for s in group]
             for group in groups.values() if len(group) > 1]
    ram_gb, years, mean_w = (np.array([row[i] for group in alike for row in group]) for i in range(3))
    members = np.repeat(np.arange(len(alike)), [len(group) for group in alike])
    counts = np.bincount(members)

    def within(values: np.ndarray) -> np.ndarray:
        """Each value minus its group's mean."""
        return values - (np.bincount(members, weights=values) / counts)[members]

    power_w = within(mean_w)
    best = None
    for step in yearly_steps:
        x = within(ram_gb * np.exp(step * years))
        slope = float(x @ power_w / (x @ x))
        error = float(((power_w - slope * x) ** 2).sum())
        if best is None or error < best[0]:
            best = (error, slope, float(step))
    return {"w_per_gb_at_2012": _round(best[1]), "log_change_per_year": _round(best[2])}


def _weighted_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares of y ~ x relative to y: minimises sum(((x.b - y) / y)^2)."""
    weight = 1 / y
    return np.linalg.lstsq(x * weight[:, None], y * weight, rcond=None)[0]


def least_absolute_deviations(x: np.ndarray, y: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
    """The coefficients b minimising sum(|x.b - y|) + sum(penalty x b^2) (iteratively reweighted
    least squares from the (ridge) least-squares start; ``penalty`` per column, None: 0). In log W,
    |x.b - y| is the relative error's size to first order, and the fit predicts the median, which
    is what the benchmark's median absolute error scores."""
    ridge = np.diag(np.zeros(x.shape[1]) if penalty is None else penalty)
    coefficients = np.linalg.solve(x.T @ x + ridge, x.T @ y)
    for _ in range(LAD_ITERATIONS):
        weighted = x * (1 / np.maximum(np.abs(y - x @ coefficients), LAD_SMALLEST_RESIDUAL))[:, None]
        coefficients = np.linalg.solve(weighted.T @ x + ridge, weighted.T @ y)
    return coefficients


def term_matrix(facts: list[dict[str, float]], ranges: dict[str, list[float]], names: tuple[str, ...]) -> np.ndarray:
    """The model's terms ``names`` of each server, computed by the package's ``model_terms``."""
    rows = []
    for server in facts:
        terms = model_terms(*bounded_facts(server, ranges))
        rows.append([terms[name] for name in names])
    return np.array(rows)


def inner_fold_of(cpu_group: str) -> int:
    """The inner cross-validation fold of a CPU model (a hash independent of ``fold_of``)."""
    return zlib.crc32(f"inner:{cpu_group}".encode("utf-8")) % INNER_FOLDS


def select_terms(servers: list[Server], terms: np.ndarray, log_power: np.ndarray) -> tuple[list[str], float]:
    """The ``CANDIDATE_TERMS`` to add to ``BASE_TERMS``, by forward selection on these servers only.

    ``terms``: servers x (BASE_TERMS + CANDIDATE_TERMS). Each step adds the candidate that lowers
    the median absolute error of an inner cross-validation (folds grouped by CPU model, least
    squares per level in log W, a level never below the level below) the most, while it lowers it
    by ``SELECTION_GAIN`` or more. Returns the terms chosen and their inner error.
    """
    inner = np.array([inner_fold_of(s.cpu_group) for s in servers])
    measured = np.exp(log_power)

    def inner_error(columns: list[int]) -> float:
        x = terms[:, columns]
        predicted = np.zeros_like(log_power)
        for fold in range(INNER_FOLDS):
            train, test = inner != fold, inner == fold
            coefficients = np.linalg.lstsq(x[train], log_power[train], rcond=None)[0]
            predicted[test] = x[test] @ coefficients
        power = np.maximum.accumulate(np.exp(predicted), axis=1)
        return float(np.median(np.abs(power / measured - 1)))

    chosen = list(range(len(BASE_TERMS)))
    best = inner_error(chosen)
    while True:
        trials = {column: inner_error(chosen + [column]) for column in range(len(BASE_TERMS), terms.shape[1])
                  if column not in chosen}
        if not trials:
            break
        column = min(trials, key=lambda c: (trials[c], c))
        if trials[column] > best - SELECTION_GAIN:
            break
        chosen.append(column)
        best = trials[column]
    names = BASE_TERMS + CANDIDATE_TERMS
    return [names[column] for column in chosen[len(BASE_TERMS):]], best


def generation_columns(servers: list[Server], names: list[str]) -> np.ndarray:
    """One indicator column per microarchitecture of ``names``: 1 where the server's CPU is of it."""
    return np.array([[float(s.microarchitecture == name) for name in names] for s in servers]).reshape(
        len(servers), len(names))


def _level_fit(x: np.ndarray, generations: np.ndarray, log_power: np.ndarray,
               penalty: float | None) -> np.ndarray:
    """Coefficients of the terms, then of the microarchitecture offsets (none where ``penalty`` is None)."""
    if penalty is None:
        return least_absolute_deviations(x, log_power)
    ridge = np.concatenate([np.zeros(x.shape[1]), np.full(generations.shape[1], penalty)])
    return least_absolute_deviations(np.hstack([x, generations]), log_power, ridge)


def select_generation_penalty(servers: list[Server], x: np.ndarray, generations: np.ndarray,
                              log_power: np.ndarray) -> float | None:
    """At one level: no microarchitecture offsets (None) or the ``GENERATION_PENALTIES`` value whose
    inner cross-validation (folds grouped by CPU model, as ``select_terms``) on these servers has
    the lowest median absolute error. Ties go to no offsets, then to the stronger penalty."""
    inner = np.array([inner_fold_of(s.cpu_group) for s in servers])
    choices: tuple[float | None, ...] = (None,) + tuple(sorted(GENERATION_PENALTIES, reverse=True))
    errors = []
    for penalty in choices:
        predicted = np.zeros_like(log_power)
        for fold in range(INNER_FOLDS):
            train, test = inner != fold, inner == fold
            coefficients = _level_fit(x[train], generations[train], log_power[train], penalty)
            columns = x[test] if penalty is None else np.hstack([x[test], generations[test]])
            predicted[test] = columns @ coefficients
        errors.append(float(np.median(np.abs(np.exp(predicted - log_power) - 1))))
    return choices[errors.index(min(errors))]


def fit_table(servers: list[Server], validation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fitted table for these servers (``validation`` is added as given): the candidate terms
    selected by cross-validation within these servers, the coefficients by least absolute
    deviations in log W."""
    fallbacks = fit_fallbacks(servers)
    facts = _facts(servers, fallbacks)
    tdp = np.array([server["tdp_w_per_socket"] for server in facts])
    ranges = {name: [_round(min(f[name] for f in facts)), _round(max(f[name] for f in facts))] for name in FITTED_FACTS}
    every_term = term_matrix(facts, ranges, BASE_TERMS + CANDIDATE_TERMS)
    log_power = np.log(np.array([s.power_w for s in servers]))
    added, inner_error = select_terms(servers, every_term, log_power)
    features = BASE_TERMS + tuple(added)
    x = every_term[:, [(BASE_TERMS + CANDIDATE_TERMS).index(name) for name in features]]
    power = np.array([s.power_w for s in servers])
    sockets = np.array([s.sockets for s in servers], dtype=float)
    split_x = np.column_stack([sockets, sockets * tdp])
    ram = ram_model(servers)
    microarchitectures = sorted({s.microarchitecture for s in servers if s.microarchitecture})
    generations = generation_columns(servers, microarchitectures)
    log_coefficients, offsets, penalties, split = [], [], [], []
    for level in range(len(LOAD_LEVELS)):
        penalty = select_generation_penalty(servers, x, generations, log_power[:, level])
        coefficients = _level_fit(x, generations, log_power[:, level], penalty)
        log_coefficients.append([_round(c) for c in coefficients[: x.shape[1]]])
        offsets.append({name: _round(c) for name, c in zip(microarchitectures, coefficients[x.shape[1]:])})
        penalties.append(penalty)
        platform, cpu = _weighted_fit(split_x, power[:, level])
        if min(platform, cpu, ram["w_per_gb_at_2012"]) <= 0:
            raise SystemExit(f"the split at load {LOAD_LEVELS[level]:.0%} has a coefficient <= 0: platform "
                             f"{platform:.3g} W/socket, cpu {cpu:.3g} W/W, ram {ram['w_per_gb_at_2012']:.3g} W/GB")
        split.append({"platform_w_per_socket": _round(platform), "cpu_w_per_tdp_w": _round(cpu)})
    table = {"features": list(features), "load_levels": list(LOAD_LEVELS), "log_power_coefficients": log_coefficients,
             "generation_offsets": offsets, "split_coefficients": split, "ram": ram,
             "generation_selection": {"candidates": list(GENERATION_PENALTIES), "penalty_by_level": penalties,
                                      "inner_folds": INNER_FOLDS},
             "term_selection": {"candidates": list(CANDIDATE_TERMS), "added": added, "inner_folds": INNER_FOLDS,
                                "inner_median_abs_error": _round(inner_error), "min_gain": SELECTION_GAIN}, "fallbacks": fallbacks, "fitted_ranges": ranges,
             "data": {"servers": len(servers), "cpu_models": len({s.cpu_group for s in servers}),
                      "source": "SPEC power_ssj2008 results, as parsed by green-coding-solutions/cloud-energy (MIT)"}}
    if validation is not None:
        table["validation"] = validation
    return table


def fold_of(cpu_group: str) -> int:
    """The cross-validation fold of a CPU model (stable across runs and machines)."""
    return zlib.crc32(cpu_group.encode("utf-8")) % FOLDS


def cross_validated_errors(servers: list[Server],
                           predict: Callable[[Server, dict[str, Any]], list[float]] | None = None) -> np.ndarray:
    """Signed relative errors (predicted / measured - 1), servers x levels, each server predicted
    by the table fitted on the folds its CPU model is not in."""
    predict = predict or (lambda server, table: [machine_power_model(**server.facts(), table=table).total_w(load)
                                                 for load in LOAD_LEVELS])
    errors = np.zeros((len(servers), len(LOAD_LEVELS)))
    for fold in range(FOLDS):
        held_out = [i for i, s in enumerate(servers) if fold_of(s.cpu_group) == fold]
        table = fit_table([s for s in servers if fold_of(s.cpu_group) != fold])
        for i in held_out:
            errors[i] = np.array(predict(servers[i], table)) / np.array(servers[i].power_w) - 1
    return errors


def later_cpu_errors(servers: list[Server], first_year: int) -> tuple[list[int], np.ndarray]:
    """The servers whose CPU launched in ``first_year`` or later, and their signed relative errors
    when predicted by the table fitted on the servers of earlier CPUs only (a stricter test than
    the folds: every CPU generation predicted is newer than any the fit saw)."""
    later = [i for i, s in enumerate(servers) if s.launch_year >= first_year]
    table = fit_table([s for s in servers if s.launch_year < first_year])
    errors = np.array([[machine_power_model(**servers[i].facts(), table=table).total_w(load) / measured - 1
                        for load, measured in zip(LOAD_LEVELS, servers[i].power_w)] for i in later])
    return later, errors


def summarise(errors: np.ndarray, servers: list[Server]) -> dict[str, Any]:
    """The validation figures stored in the table (see ``carbon_magic.core.power_model.ErrorBand``)."""
    tail = (100 - COVERAGE_PERCENT) / 2
    low_error, high_error = np.percentile(errors, [tail, 100 - tail])
    low_by_level, high_by_level = np.percentile(errors, [tail, 100 - tail], axis=0)
    return {"coverage_percent": COVERAGE_PERCENT, "low_percentile": tail, "high_percentile": 100 - tail,
            "measured_low_ratio": _round(1 / (1 + high_error)), "measured_high_ratio": _round(1 / (1 + low_error)),
            "median_abs_error": _round(float(np.median(np.abs(errors)))),
            "p90_abs_error": _round(float(np.percentile(np.abs(errors), 90))),
            "signed_median_error": _round(float(np.median(errors))),
            "servers": len(servers), "cpu_models": len({s.cpu_group for s in servers}), "folds": FOLDS,
            "low_ratio_by_level": [_round(1 / (1 + error)) for error in high_by_level],
            "high_ratio_by_level": [_round(1 / (1 + error)) for error in low_by_level]}


def build(path: Path = SOURCE_CSV) -> dict[str, Any]:
    """The complete table: the fit on every server, with its cross-validated error."""
    servers = load_servers(path)
    return fit_table(servers, summarise(cross_validated_errors(servers), servers))


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=SOURCE_CSV)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = build(args.csv)
    args.out.write_text(render(table), encoding="utf-8")
    band = table["validation"]
    print(f"wrote {args.out}: {band['servers']} servers, {band['cpu_models']} CPU models; cross-validated "
          f"median {band['median_abs_error']:.1%}, p90 {band['p90_abs_error']:.1%}, "
          f"signed median {band['signed_median_error']:+.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
