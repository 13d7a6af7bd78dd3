"""How the study report writes the numbers of claims.csv and diagnostics.csv.

One place, so the page, the chain figure and the browser tests (which compare the page
with the CSVs as the page formats them) agree.
"""

from __future__ import annotations

import math

BLANK = "—"  # a value that does not exist (blank in the CSV)
CLAIM_COLUMNS = ["claim", "assay", "estimate", "q2.5", "q97.5", "probability", "p_margin",
                 "classical_p", "verdict"]
CLAIM_EXTRA = ["kind", "step", "scale", "direction", "converged", "run", "classical_test",
               "detail", "mcse"]
DIAGNOSTIC_COLUMNS = ["assay", "run", "converged", "verdict", "max_rhat", "min_ess_bulk",
                      "min_ess_tail", "divergences", "draws", "chains"]
INPUT_COLUMNS = ["assay", "path", "sha256"]
MARKS = {  # verdict category (chain_figure.verdict_category) -> (symbol, word) in the table
    "supported": ("✔", "supported"),
    "margin": ("✔", "supported, possibly below the margin"),
    "below margin": ("✓", "supported, smaller than the margin"),
    "weak": ("~", "weak evidence"),
    "unsupported": ("✘", "not supported"),
    "contradicted": ("⊘", "contradicted (the opposite holds)"),
    "unreliable": ("⚠", "fit did not converge"),
    "not evaluable": ("?", "not evaluable"),
}


def number(value: object) -> float | None:
    """A CSV cell as a float; None when blank or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def format_estimate(value: object) -> str:
    """3 significant digits (whole numbers from 1,000 up); infinities as ±inf."""
    x = number(value)
    if x is None:
        return BLANK
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def format_probability(value: object) -> str:
    """A posterior probability to 3 decimals; the ends as '> 0.999' and '< 0.001' (a few
    thousand draws cannot say more)."""
    x = number(value)
    if x is None:
        return BLANK
    if x >= 0.9995:
        return "> 0.999"
    if x < 0.0005:
        return "< 0.001"
    return f"{x:.3f}"


def format_p_value(value: object) -> str:
    """A classical p-value: 3 decimals, or 2 significant digits in e-notation below 0.001."""
    x = number(value)
    if x is None:
        return BLANK
    if x < 0.001:
        return f"{x:.1e}"
    return f"{x:.3f}"


def format_claim_cell(column: str, value: object) -> str:
    """The text the claims table shows for ``value`` of claims.csv column ``column``."""
    if column in ("estimate", "q2.5", "q97.5"):
        return format_estimate(value)
    if column in ("probability", "p_margin"):
        return format_probability(value)
    if column == "classical_p":
        return format_p_value(value)
    return BLANK if _blank(value) else str(value)


def format_diagnostic_cell(column: str, value: object) -> str:
    """The text the diagnostics table shows for ``value`` of diagnostics.csv ``column``."""
    if column == "converged":
        if _blank(value):
            return BLANK
        return "yes" if str(value).strip().lower() in ("true", "1", "yes") else "NO"
    if column == "max_rhat":
        x = number(value)
        return BLANK if x is None else f"{x:.3f}"
    if column in ("min_ess_bulk", "min_ess_tail", "divergences", "draws", "chains"):
        x = number(value)
        return BLANK if x is None else f"{x:.0f}"
    return BLANK if _blank(value) else str(value)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())
