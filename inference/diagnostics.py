"""Convergence diagnostics of a fit, and one verdict a user can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from xarray import DataTree

from chemoshift.inference.rank_diagnostics import rank_diagnostics

MAX_RHAT = 1.01
MIN_ESS = 400
MIN_BFMI = 0.3
EXTENDABLE_RHAT = 1.05  # chains this close agree; more draws settle the rest


@dataclass(frozen=True)
class Diagnostics:
    """Worst-case convergence figures over the checked variables, and the verdict.

    ``max_rhat`` is rank-normalised split R-hat; ``min_ess_bulk`` / ``min_ess_tail`` are
    effective sample sizes (draws); ``min_bfmi`` is the lowest per-chain E-BFMI.
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

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def only_short_of_ess(self) -> bool:
        """Failing only for want of draws (more draws would fix it): ESS short, R-hat no
        worse than short chains give (<= ``EXTENDABLE_RHAT``), no divergences, E-BFMI fine."""
        return (not self.passed and self.divergences == 0 and self.max_rhat <= EXTENDABLE_RHAT
                and not self.min_bfmi < MIN_BFMI)

    @property
    def verdict(self) -> str:
        if self.passed:
            return (f"converged: R-hat <= {self.max_rhat:.3f}, "
                    f"bulk ESS >= {self.min_ess_bulk:.0f}, "
                    f"tail ESS >= {self.min_ess_tail:.0f}, no divergences, "
                    f"E-BFMI >= {self.min_bfmi:.2f}")
        return "NOT CONVERGED: " + "; ".join(self.failures)

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed, "verdict": self.verdict}


def _min_bfmi(energy: np.ndarray) -> float:
    """The smallest E-BFMI over chains (ArviZ's ``bfmi``; its import alone costs ~1.5 s):
    ``energy`` (chain, draw)."""
    from arviz_stats.base import array_stats

    return float(np.min(array_stats.bfmi(np.asarray(energy, dtype=float))))


def diagnose(datatree: DataTree, var_names: list[str]) -> Diagnostics:
    """Check R-hat, bulk and tail ESS, divergences and E-BFMI against the usual thresholds.

    Parameters
    ----------
    datatree : posterior and sample_stats groups with ``chain`` and ``draw`` dims.
    var_names : posterior variables to check (free parameters and key quantities);
        non-finite entries (an absolute IC50 that is infinite in some draws) are skipped.
    """
    rhat, bulk, tail = _rank_diagnostics(datatree["posterior"].to_dataset(), var_names)
    stats = datatree["sample_stats"]
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = _min_bfmi(stats["energy"].values) if "energy" in stats else np.nan

    max_rhat = max(rhat.values(), default=np.nan)
    min_bulk = min(bulk.values(), default=np.nan)
    min_tail = min(tail.values(), default=np.nan)
    failures = []
    if not max_rhat <= MAX_RHAT:
        failures.append(f"R-hat {max_rhat:.3f} > {MAX_RHAT} ({_worst(rhat, max)})")
    if not min_bulk >= MIN_ESS:
        failures.append(f"bulk ESS {min_bulk:.0f} < {MIN_ESS} ({_worst(bulk, min)})")
    if not min_tail >= MIN_ESS:
        failures.append(f"tail ESS {min_tail:.0f} < {MIN_ESS} ({_worst(tail, min)})")
    if divergences:
        failures.append(f"{divergences} divergent transition(s)")
    if not bfmi >= MIN_BFMI:
        failures.append(f"E-BFMI {bfmi:.2f} < {MIN_BFMI}")
    return Diagnostics(
        max_rhat=float(max_rhat), min_ess_bulk=float(min_bulk), min_ess_tail=float(min_tail),
        divergences=divergences, min_bfmi=bfmi, worst_rhat_variable=_worst(rhat, max),
        worst_ess_variable=_worst(bulk, min), checked_variables=list(var_names),
        failures=failures,
    )


def _rank_diagnostics(posterior, var_names: list[str]):
    """Per variable: worst R-hat, lowest bulk and tail ESS over its finite elements
    (ArviZ's statistics, computed for all elements at once: :mod:`.rank_diagnostics`)."""
    columns, spans, start = [], {}, 0
    for name in var_names:
        values = np.asarray(posterior[name].transpose("chain", "draw", ...), dtype=float)
        columns.append(values.reshape(values.shape[0], values.shape[1], -1))
        spans[name] = slice(start, start + columns[-1].shape[2])
        start = spans[name].stop
    if not columns:
        return {}, {}, {}
    stats = rank_diagnostics(np.concatenate(columns, axis=2))
    out = []
    for key, reduce in (("rhat", np.max), ("ess_bulk", np.min), ("ess_tail", np.min)):
        per_variable = {}
        for name, span in spans.items():
            finite = stats[key][span][np.isfinite(stats[key][span])]
            if finite.size:
                per_variable[name] = float(reduce(finite))
        out.append(per_variable)
    return tuple(out)


def _worst(values: dict[str, float], pick) -> str:
    return pick(values, key=values.get) if values else ""
