"""Simulated two-group arrays, paired (:func:`simulate_arrays`) or unpaired
(:func:`simulate_groups`), with known effects (for recovery tests and benchmarks).

Laws chosen to look like real arrays, not like the model's prior:

- probe variances vary: sigma^2 (variance of a within-pair difference) from a scaled
  inverse chi-square (d0 = 4, s0 = 0.35 log2), the law limma's moderation rests on and
  that fits real arrays well;
- most genes are null: ``1 - share_de`` (80%) of probes have only a small continuous
  effect N(0, ``null_sd`` = 0.1 log2), tissue-to-tissue variation below what three to
  seven pairs resolve (GEO GDS507's own empirical-Bayes fit puts no mass on effects
  below 0.2 sigma: real tumour / normal differences have no exact-zero spike);
- real effects are heavy-tailed and in log2 units, independent of the probe's noise:
  ``effect_sd`` x t(3), clipped at +-8 log2 (256-fold). The model's effect prior is a
  scale mixture in units of each probe's sigma, so the simulator is not of its family.

``scaled=True`` gives the earlier law instead (effects in units of the probe's sigma,
nulls 0.05 sigma, below the data's resolution): kept to show the known over-coverage of
sub-resolution nulls (README, expression section).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_ABS_EFFECT = 8.0  # log2; larger fold changes are not seen on real arrays


@dataclass(frozen=True)
class ArrayDesign:
    """n_probes probes, n_pairs pairs; ``share_de`` of probes have effect_sd x t(3)."""

    n_probes: int = 2000
    n_pairs: int = 5
    share_de: float = 0.2
    effect_sd: float = 0.8  # log2, scale of the t(3) effects
    null_sd: float = 0.1  # log2, sd of the small effects of the null genes
    d0: float = 4.0
    s0: float = 0.35  # prior sd of a within-pair difference (log2)
    mean_level: float = 8.0
    scaled: bool = False


def _effects(design: ArrayDesign, sigma_d: np.ndarray, rng: np.random.Generator
             ) -> np.ndarray:
    g = design.n_probes
    de = rng.random(g) < design.share_de
    if design.scaled:
        ratio = sigma_d / design.s0
        return np.where(de, 1.5 * rng.standard_t(4, size=g) * ratio,
                        0.05 * sigma_d * rng.standard_normal(g))
    effect = np.where(de, design.effect_sd * rng.standard_t(3, size=g),
                      design.null_sd * rng.standard_normal(g))
    return np.clip(effect, -MAX_ABS_EFFECT, MAX_ABS_EFFECT)


def simulate_arrays(design: ArrayDesign = ArrayDesign(), seed: int = 0
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Return (log2 values probe x sample, sample sheet, true log2 fold change per probe).

    The sheet has ``sample``, ``patient`` and ``tissue`` (``normal`` / ``tumour``)."""
    rng = np.random.default_rng(seed)
    g, n = design.n_probes, design.n_pairs
    sigma_d, effect = _sd_and_effects(design, rng)
    base = design.mean_level + rng.normal(0, 1.5, size=(g, 1)) + rng.normal(0, 0.5, (g, n))
    noise = sigma_d[:, None] / np.sqrt(2)
    normal = base + rng.normal(0, 1, (g, n)) * noise
    tumour = base + effect[:, None] + rng.normal(0, 1, (g, n)) * noise
    probes = [f"p{i:05d}" for i in range(g)]
    columns = [f"N{p + 1}" for p in range(n)] + [f"T{p + 1}" for p in range(n)]
    values = pd.DataFrame(np.hstack([normal, tumour]), index=probes, columns=columns)
    sheet = pd.DataFrame({"sample": columns,
                          "patient": [f"P{p + 1}" for p in range(n)] * 2,
                          "tissue": ["normal"] * n + ["tumour"] * n})
    return values, sheet, pd.Series(effect, index=probes, name="log2fc")


def _sd_and_effects(design: ArrayDesign, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each probe's sd of a treated - control difference (scaled inverse chi-square, d0 and
    s0) and its true log2 effect (probes,)."""
    sigma_d = np.sqrt(design.d0 * design.s0 ** 2
                      / rng.chisquare(design.d0, size=design.n_probes))
    return sigma_d, _effects(design, sigma_d, rng)


def simulate_groups(design: ArrayDesign = ArrayDesign(), n_control: int = 3,
                    n_treated: int = 3, seed: int = 0
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Two independent groups (unpaired: mimic vs control cultures) under the laws above.

    Each array is the probe's level plus its own noise, sd sigma_d / sqrt(2) (sigma_d: the
    sd of a treated - control difference, drawn as in :func:`simulate_arrays`); treated
    arrays add the probe's effect. ``design.n_pairs`` is not used. Returns (log2 values
    probe x sample, sample sheet with ``sample`` and ``agent`` (``control`` / ``mimic``),
    true log2 fold change per probe).
    """
    rng = np.random.default_rng(seed)
    g = design.n_probes
    sigma_d, effect = _sd_and_effects(design, rng)
    level = design.mean_level + rng.normal(0, 1.5, size=(g, 1))
    noise = sigma_d[:, None] / np.sqrt(2)
    control = level + rng.normal(0, 1, (g, n_control)) * noise
    treated = level + effect[:, None] + rng.normal(0, 1, (g, n_treated)) * noise
    probes = [f"p{i:05d}" for i in range(g)]
    columns = [f"C{i + 1}" for i in range(n_control)] + [f"M{i + 1}" for i in range(n_treated)]
    values = pd.DataFrame(np.hstack([control, treated]), index=probes, columns=columns)
    sheet = pd.DataFrame({"sample": columns,
                          "agent": ["control"] * n_control + ["mimic"] * n_treated})
    return values, sheet, pd.Series(effect, index=probes, name="log2fc")
