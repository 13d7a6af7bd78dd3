"""The next step a failed fit's diagnostics point to, in the command line's words (and
the :class:`~chemoshift.inference.fit.SamplerSettings` field a script sets instead).

Each step names the option and a value that follows from the figures: how many draws
the ESS per draw so far says are needed, more chains where chains disagree, a higher
target acceptance where the sampler diverged, longer tuning where E-BFMI is low. An
assay adds its own steps (a prior, named by its option) where its parameters point to one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from chemoshift.inference.diagnostics import EXTENDABLE_RHAT, MIN_BFMI, MIN_ESS, Diagnostics

if TYPE_CHECKING:
    from chemoshift.inference.fit import SamplerSettings

DRAWS_STEP = 500  # suggested draws are rounded up to a multiple of this
MAX_CHAINS_SUGGESTED = 8


def advise(diagnostics: Diagnostics, settings: SamplerSettings,
           draws_per_chain: int | None = None) -> list[str]:
    """What to run next, one sentence a step; empty when the fit passed."""
    if diagnostics.passed:
        return []
    steps = []
    kept = draws_per_chain or settings.first_draws
    if diagnostics.divergences:
        accept = settings.target_accept or 0.9
        if accept < 0.99:
            value = 0.95 if accept < 0.95 else 0.99
            steps.append(f"{diagnostics.divergences} divergent transition(s): raise the target "
                         f"acceptance rate, --target-accept {value} (target_accept={value})")
        else:
            steps.append("divergences at target acceptance 0.99: a funnel or ridge the priors "
                         "leave open; see the report's diagnostics for the parameters involved")
    if diagnostics.min_bfmi < MIN_BFMI:
        tune = max(1000, 2 * settings.tune)
        steps.append(f"E-BFMI {diagnostics.min_bfmi:.2f}: tune longer, --tune {tune} "
                     f"(tune={tune})")
    disagree = _chains_disagree(diagnostics)
    if disagree:
        chains = min(max(4, 2 * settings.n_chains), MAX_CHAINS_SUGGESTED)
        steps.append(f"chains disagree ({disagree}): more chains tell separate modes from slow "
                     f"mixing, --chains {chains} (chains={chains}); modes that persist mean "
                     "the data leave those estimates ambiguous")
    if _short_of_draws(diagnostics):
        draws = _draws_needed(diagnostics, kept, settings)
        steps.append(f"too few effective draws: run longer, --draws {draws} "
                     f"(draws={draws}, extend=False)"
                     + ("; or leave out --draws, and the chains run on until ESS "
                        f"{MIN_ESS}" if not settings.extend else ""))
    return steps


def _chains_disagree(diagnostics: Diagnostics) -> str:
    """Where chains disagree beyond what more draws settle, in words ('' if nowhere)."""
    where = []
    if diagnostics.max_rhat > EXTENDABLE_RHAT and any(
            f.startswith("R-hat") for f in diagnostics.failures):
        where.append(f"R-hat {diagnostics.max_rhat:.2f} on {diagnostics.worst_rhat_variable}")
    units = [label for label, failed in diagnostics.unit_failures.items()
             if any(_rhat_of(text) > EXTENDABLE_RHAT for text in failed)]
    if units:
        unit = diagnostics.unit_name or "unit"
        where.append(f"{len(units)} {unit}{'' if len(units) == 1 else 's'}: "
                     f"{', '.join(units[:3])}{' ...' if len(units) > 3 else ''}")
    return "; ".join(where)


def _rhat_of(text: str) -> float:
    if not text.startswith("R-hat "):
        return 0.0
    return float(text.split()[1])


def _short_of_draws(diagnostics: Diagnostics) -> bool:
    """ESS (or an R-hat more draws settle) falls short somewhere more draws can fix."""
    if diagnostics.extendable:
        return True
    ess = diagnostics.min_ess_extendable
    return bool(diagnostics.divergences == 0 and math.isfinite(ess) and ess < MIN_ESS)


def _draws_needed(diagnostics: Diagnostics, kept: int, settings: SamplerSettings) -> int:
    """Draws a chain for ESS ``MIN_ESS`` with half again to spare at the ESS per draw seen
    so far; at least twice the defaults' first look after a run shorter than it (an ESS
    read off a few hundred draws flatters the chains: 60 draws a chain promised ESS 400 at
    1,000, which gave 391)."""
    ess = diagnostics.min_ess_extendable
    wanted = 2 * kept if not (math.isfinite(ess) and ess > 0) else kept * 1.5 * MIN_ESS / ess
    wanted = max(wanted, kept + DRAWS_STEP)
    default_first = dataclasses.replace(settings, draws=None).first_draws
    if kept < default_first:
        wanted = max(wanted, 2 * default_first)
    return int(math.ceil(wanted / DRAWS_STEP) * DRAWS_STEP)
