"""Convergence diagnostics of a fit, and one verdict a user can act on.

A fit's parameters are of two kinds. **Population** parameters (drug means, scales,
pooled shifts, noise) are shared by everything: when one fails, no estimate of the fit
can be trusted. **Local** parameters belong to one unit (a dose-response curve: its IC50,
slope, bottom, its plates' tops): when only some of those fail, the verdict names the
units that failed and every other unit's rows stand on their own diagnostics. Which
elements belong to which unit is the assay's knowledge (:class:`Units`); without it every
parameter is a population parameter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from xarray import DataTree

from chemoshift.inference.rank_diagnostics import rank_diagnostics

MAX_RHAT = 1.01
MIN_ESS = 400
MIN_BFMI = 0.3
EXTENDABLE_RHAT = 1.05  # chains this close agree; more draws settle the rest
NAMED_UNITS = 10  # units named in the verdict; the run record and tables list them all
SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class Units:
    """Which unit each element of a local variable belongs to.

    ``name`` names a unit ("curve"); ``labels`` name each one. ``members`` maps a
    variable's dims (as in the posterior, without chain and draw) to ``(element, unit)``
    index pairs over its flattened elements: an element may belong to several units (a
    plate's top to every curve on the plate). Variables whose dims are not in ``members``
    are population parameters.
    """

    name: str
    labels: list[str]
    members: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Diagnostics:
    """Worst-case convergence figures over the checked variables, and the verdict.

    ``max_rhat`` is rank-normalised split R-hat; ``min_ess_bulk`` / ``min_ess_tail`` are
    effective sample sizes (draws); ``min_bfmi`` is the lowest per-chain E-BFMI; all four
    over every checked element. ``failures`` are the population's (and divergences,
    E-BFMI); ``unit_failures`` maps each unit that failed on its own parameters to what
    failed. ``elements`` keeps per-element ``rhat`` / ``ess_bulk`` / ``ess_tail`` of the
    variables a table reports. ``advice`` is the next step, in command-line words.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    worst_rhat_variable: str
    worst_ess_variable: str
    checked_variables: list[str]
    failures: list[str] = field(default_factory=list)
    unit_name: str = ""
    n_units: int = 0
    unit_failures: dict[str, list[str]] = field(default_factory=dict)
    elements: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    extendable: bool = False  # more draws of the same chains could make it pass
    min_ess_extendable: float = np.nan  # lowest ESS among what more draws can still fix
    advice: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.unit_failures

    @property
    def population_passed(self) -> bool:
        """Every population parameter converged (and no divergences, E-BFMI fine)."""
        return not self.failures

    @property
    def only_short_of_ess(self) -> bool:
        """Failing only for want of draws: more draws of the same chains could pass."""
        return self.extendable

    @property
    def failed_units(self) -> list[str]:
        return list(self.unit_failures)

    @property
    def verdict(self) -> str:
        if self.passed:
            return (f"converged: R-hat <= {self.max_rhat:.3f}, "
                    f"bulk ESS >= {self.min_ess_bulk:.0f}, "
                    f"tail ESS >= {self.min_ess_tail:.0f}, no divergences, "
                    f"E-BFMI >= {self.min_bfmi:.2f}")
        parts = list(self.failures)
        if self.unit_failures:
            parts.append(self.units_sentence())
        return "NOT CONVERGED: " + "; ".join(parts)

    def units_sentence(self) -> str:
        """'2 of 216 curves did not converge: A, B; every other row ...' (or '')."""
        if not self.unit_failures:
            return ""
        failed = self.failed_units
        named = ", ".join(failed[:NAMED_UNITS])
        if len(failed) > NAMED_UNITS:
            named += f" and {len(failed) - NAMED_UNITS} more (run.json lists them all)"
        unit = self.unit_name or "unit"
        text = (f"{len(failed)} of {self.n_units} {unit}{'' if self.n_units == 1 else 's'} "
                f"did not converge: {named}")
        if self.population_passed:
            text += "; every other row converged on its own diagnostics"
        return text

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed,
                "population_passed": self.population_passed, "verdict": self.verdict}


def element_passes(rhat, ess_bulk, ess_tail) -> np.ndarray:
    """Whether each element meets the thresholds; a NaN figure (a constant) passes."""
    rhat, bulk, tail = (np.asarray(v, dtype=float) for v in (rhat, ess_bulk, ess_tail))
    return ~(rhat > MAX_RHAT) & ~(bulk < MIN_ESS) & ~(tail < MIN_ESS)


def _min_bfmi(energy: np.ndarray) -> float:
    """The smallest E-BFMI over chains (ArviZ's ``bfmi``; its import alone costs ~1.5 s):
    ``energy`` (chain, draw)."""
    from arviz_stats.base import array_stats

    return float(np.min(array_stats.bfmi(np.asarray(energy, dtype=float))))


def diagnose(datatree: DataTree, var_names: list[str], units: Units | None = None,
             reported: list[str] | tuple[str, ...] = ()) -> Diagnostics:
    """Check R-hat, bulk and tail ESS, divergences and E-BFMI against the usual thresholds.

    Parameters
    ----------
    datatree : posterior and sample_stats groups with ``chain`` and ``draw`` dims.
    var_names : posterior variables to check (free parameters and key quantities); an
        infinite draw (an absolute IC50 never reached) ranks above every finite one.
    units : which elements belong to which unit; failures of those elements are the
        unit's, not the population's.
    reported : more variables to check whose per-element figures are kept (``elements``)
        for the tables that report them.
    """
    posterior = datatree["posterior"]
    names = list(dict.fromkeys([*var_names, *(r for r in reported if r in posterior)]))
    stats, spans = _rank_diagnostics(posterior.to_dataset(), names)
    sample_stats = datatree["sample_stats"]
    divergences = int(sample_stats["diverging"].sum()) if "diverging" in sample_stats else 0
    bfmi = _min_bfmi(sample_stats["energy"].values) if "energy" in sample_stats else np.nan

    local = _local_elements(posterior, names, spans, units)
    n_columns = stats["rhat"].size
    population = np.ones(n_columns, bool)
    for columns, _ in local.values():
        population[columns] = False
    failures = _population_failures(stats, spans, population)
    if divergences:
        failures.append(f"{divergences} divergent transition(s)")
    if not bfmi >= MIN_BFMI:
        failures.append(f"E-BFMI {bfmi:.2f} < {MIN_BFMI}")
    unit_failures, hopeless = _unit_failures(stats, spans, local, units)

    # more draws help when nothing but ESS falls short, outside units whose chains disagree
    fixable = population.copy()
    for columns, unit_index in local.values():
        fixable[columns[~np.isin(unit_index, hopeless)]] = True
    with np.errstate(invalid="ignore"):
        population_rhat = np.nanmax(stats["rhat"][population], initial=1.0)
        ess = np.fmin(stats["ess_bulk"], stats["ess_tail"])[fixable]
    min_ess_fixable = float(np.nanmin(ess)) if np.isfinite(ess).any() else np.nan
    fixable_units = set(unit_failures) - {units.labels[u] for u in hopeless} if units else set()
    extendable = (divergences == 0 and not bfmi < MIN_BFMI
                  and population_rhat <= EXTENDABLE_RHAT
                  and bool(failures or fixable_units))

    per_variable = {key: {name: _reduce(stats[key][span], key) for name, span in spans.items()}
                    for key in ("rhat", "ess_bulk", "ess_tail")}
    per_variable = {key: {n: v for n, v in values.items() if np.isfinite(v)}
                    for key, values in per_variable.items()}
    return Diagnostics(
        max_rhat=max(per_variable["rhat"].values(), default=np.nan),
        min_ess_bulk=min(per_variable["ess_bulk"].values(), default=np.nan),
        min_ess_tail=min(per_variable["ess_tail"].values(), default=np.nan),
        divergences=divergences, min_bfmi=bfmi,
        worst_rhat_variable=_worst(per_variable["rhat"], max),
        worst_ess_variable=_worst(per_variable["ess_bulk"], min),
        checked_variables=list(var_names), failures=failures,
        unit_name=units.name if units else "", n_units=len(units.labels) if units else 0,
        unit_failures=unit_failures,
        elements={name: {key: _rounded(stats[key][spans[name]]) for key in stats}
                  for name in reported if name in spans},
        extendable=bool(extendable), min_ess_extendable=min_ess_fixable,
    )


def _rank_diagnostics(posterior, var_names: list[str]):
    """R-hat, bulk and tail ESS of every element of ``var_names`` at once (ArviZ's
    statistics, vectorised: :mod:`.rank_diagnostics`), and each variable's column span."""
    columns, spans, start = [], {}, 0
    for name in var_names:
        values = np.asarray(posterior[name].transpose(*SAMPLE_DIMS, ...), dtype=float)
        columns.append(values.reshape(values.shape[0], values.shape[1], -1))
        spans[name] = slice(start, start + columns[-1].shape[2])
        start = spans[name].stop
    if not columns:
        empty = np.zeros(0)
        return {"rhat": empty, "ess_bulk": empty, "ess_tail": empty}, spans
    values = np.concatenate(columns, axis=2)
    stats = rank_diagnostics(values)
    # a quantity identical in every draw (a curve that never reaches half its top: its
    # absolute IC50 is +inf throughout) has chains that agree exactly: R-hat 1, not NaN
    with np.errstate(invalid="ignore"):
        constant = (values == values[:1, :1]).all(axis=(0, 1))
    if values.shape[0] > 1:
        stats["rhat"] = np.where(constant, 1.0, stats["rhat"])
    return stats, spans


def _local_elements(posterior, names: list[str], spans: dict, units: Units | None
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Variable -> (column, unit) index pairs of its elements that belong to units."""
    if units is None:
        return {}
    local = {}
    for name in names:
        dims = tuple(d for d in posterior[name].dims if d not in SAMPLE_DIMS)
        if dims in units.members:
            element, unit = units.members[dims]
            local[name] = (spans[name].start + np.asarray(element, int), np.asarray(unit, int))
    return local


def _population_failures(stats: dict, spans: dict, population: np.ndarray) -> list[str]:
    """Failure texts of the population's elements, worst variable named (as before)."""
    failures = []
    for key, label, reduce, bad in (("rhat", "R-hat", max, lambda v: v > MAX_RHAT),
                                    ("ess_bulk", "bulk ESS", min, lambda v: v < MIN_ESS),
                                    ("ess_tail", "tail ESS", min, lambda v: v < MIN_ESS)):
        worst = {}
        for name, span in spans.items():
            values = stats[key][span][population[span]]
            finite = values[np.isfinite(values)]
            if finite.size:
                worst[name] = float(reduce(finite))
        if not worst and population.any():
            failures.append(f"{label} not computable"
                            + (" (one chain)" if key == "rhat" else ""))
        if worst:
            name = _worst(worst, reduce)
            if bad(worst[name]):
                sign = ">" if key == "rhat" else "<"
                limit = MAX_RHAT if key == "rhat" else MIN_ESS
                value = f"{worst[name]:.3f}" if key == "rhat" else f"{worst[name]:.0f}"
                failures.append(f"{label} {value} {sign} {limit} ({name})")
    return failures


def _unit_failures(stats: dict, spans: dict, local: dict, units: Units | None
                   ) -> tuple[dict[str, list[str]], np.ndarray]:
    """Unit label -> what failed ('R-hat 1.47 (hill)'), in unit order; and the units whose
    chains disagree beyond what more draws settle (R-hat > ``EXTENDABLE_RHAT``)."""
    if units is None or not local:
        return {}, np.zeros(0, int)
    worst: dict[int, dict[str, tuple[float, str]]] = {}
    for name, (columns, unit_index) in local.items():
        for key in ("rhat", "ess_bulk", "ess_tail"):
            values = stats[key][columns]
            bad = values > MAX_RHAT if key == "rhat" else values < MIN_ESS
            for value, unit in zip(values[bad], unit_index[bad], strict=True):
                seen = worst.setdefault(int(unit), {})
                current = seen.get(key)
                if current is None or (value > current[0] if key == "rhat" else
                                       value < current[0]):
                    seen[key] = (float(value), name)
    labels = {"rhat": "R-hat {:.3f}", "ess_bulk": "bulk ESS {:.0f}", "ess_tail": "tail ESS {:.0f}"}
    failures = {units.labels[u]: [f"{labels[k].format(v)} ({n})" for k, (v, n) in found.items()]
                for u, found in sorted(worst.items())}
    hopeless = np.array([u for u, found in worst.items()
                         if found.get("rhat", (0.0,))[0] > EXTENDABLE_RHAT], dtype=int)
    return failures, hopeless


def _reduce(values: np.ndarray, key: str) -> float:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.nan
    return float(finite.max() if key == "rhat" else finite.min())


def _rounded(values: np.ndarray) -> list[float]:
    """Per-element figures for the run record: 4 decimals for R-hat, whole ESS; NaN kept."""
    return [float(v) if not np.isfinite(v) else round(float(v), 4) for v in values]


def _worst(values: dict[str, float], pick) -> str:
    return pick(values, key=values.get) if values else ""
