"""Beta-binomial apoptosis model: apoptotic cells out of cells acquired, per tube.

For sample (tube) ``i`` of group ``g`` (cell line x treatment x drug) in batch ``b``
(experiment x cell line) and cell ``c`` (group g in that experiment)::

    apoptotic_i ~ BetaBinomial(total_i, p_i * kappa, (1 - p_i) * kappa)
    logit p_i   = logit_fraction[g] + experiment_effect[b] + deviation[c]
    logit_fraction[g] ~ Normal(logit(0.1), fraction_sd)
    experiment_effect[b] ~ Normal(0, experiment_sd)   (sampled as in log_ratio.split_batches)
    deviation[c] = deviation_sd * z_c, z_c ~ Normal(0, 1)   (see has_deviation)
    deviation_sd ~ Gamma(2, rate 2 / priors.deviation_sd)
    log kappa ~ Normal(log_kappa_mean, log_kappa_sd)

Why beta-binomial: 20,000 cells per sample make a binomial's standard error of a 10%
fraction 0.2 percentage points, while replicate samples differ by several: the binomial
would be absurdly certain. ``kappa`` (the beta's precision) is estimated: sample-to-sample
variance is p(1 - p) (1 / n + 1 / (kappa + 1)) roughly, so kappa near 300 means replicate
fractions vary by ~6% of p(1 - p)^0.5. The experiment effect (learnt only from
``MIN_BATCHES`` or more batches, else fixed at its prior) moves every sample of an
experiment together and cancels in the effects. It is Normal, not zero-sum (batches nest
in cell lines): ``fraction`` is a group's value across experiments, with the
uncertainty of having seen only a few.

The deviation moves one group in one experiment, shared by that group's tubes in it, and
does not cancel in an effect: the experiment, not the tube, is the unit of replication,
so a group's ``fraction`` and every effect widen with the experiments' disagreement about
that group (as :mod:`chemoshift.models.log_ratio`'s deviation). ``deviation_sd`` is
learnt from the cells (Gamma(2) prior, mean 0.2: a group's odds move ~20% from experiment
to experiment beyond the shared shift; 0.4 still has prior mass ~9%). It is non-centred
(centred mixed no better with groups moving 0.4 and several times worse, in ESS of
``deviation_sd``, when experiments agree) and split like the batches: zero-sum within a
group in the likelihood, while the group's mean deviation, whose posterior is its prior
N(0, deviation_sd^2 / experiments), moves ``logit_fraction``, so group means and their
deviations form no ridge. It is a term only when a group was seen in two or more
experiments and some group x experiment cell holds two or more tubes: with one tube per
cell it is the beta's over-dispersion itself (a funnel), which then carries the
experiments' disagreement alone.

Named quantities: ``fraction`` (group): the apoptotic fraction of a typical experiment;
``log_odds_ratio`` / ``odds_ratio`` and ``percentage_points`` (effect): the miR effect
without the drug, with it, and the interaction, per cell line; ``deviation`` (cell, with
the term): each group's move in each experiment, from the group's mean over experiments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from chemoshift.data.apoptosis import ApoptosisData, effect_weights
from chemoshift.models.log_ratio import split_batches

MIN_BATCHES = 5


@dataclass(frozen=True)
class ApoptosisPriors:
    """Prior scales; logit units unless said."""

    fraction_sd: float = 2.0  # apoptotic fractions from ~1% to ~60% a priori
    experiment_sd: float = 0.3  # experiments move the odds by ~30%; fixed below 5 batches
    deviation_sd: float = 0.2  # prior mean (Gamma(2)) of a group's own move: odds ~20%
    log_kappa_mean: float = 5.5  # beta precision ~250 (replicates differ by ~1-3 points)
    log_kappa_sd: float = 1.5  # from ~13 (wildly variable) to ~5,000 (almost binomial)


def build_model(data: ApoptosisData, priors: ApoptosisPriors = ApoptosisPriors()) -> pm.Model:
    """The beta-binomial model of ``data`` (see the module docstring).

    Returns a model with coords ``group``, ``batch``, ``effect``, ``obs`` (a tube) and,
    with the deviation term, ``cell`` (group x experiment); deterministics ``fraction``
    (group), ``log_odds_ratio`` / ``odds_ratio`` / ``percentage_points`` (effect) and,
    with the term, ``deviation`` (cell); ``apoptotic`` is observed (obs).
    """
    effects = data.effects()
    weights = effect_weights(effects, len(data.groups))
    deviation = has_deviation(data)
    coords = {"group": data.group_names, "batch": data.batches,
              "effect": list(effects.name), "obs": np.arange(len(data.samples))}
    if deviation:
        coords["cell"] = data.cells
    samples = data.samples
    with pm.Model(coords=coords) as model:
        group = pm.Data("group_index", samples.group.to_numpy(), dims="obs")
        total = pm.Data("total", samples.total.to_numpy(), dims="obs")
        if len(data.batches) > 1:
            batch = pm.Data("batch_index", samples.batch.to_numpy(), dims="obs")
            scale = (pm.Gamma("experiment_sd", alpha=2, beta=2 / priors.experiment_sd)
                     if len(data.batches) >= MIN_BATCHES else priors.experiment_sd)
            in_sample = pm.Normal("logit_in_sample", np.log(0.1 / 0.9), priors.fraction_sd,
                                  dims="group")
            lines = list(dict.fromkeys(data.groups.cell_line))
            batch_line = np.array([lines.index(b.split(" | ", 1)[1]) for b in data.batches])
            group_line = np.array([lines.index(c) for c in data.groups.cell_line])
            effect, line_mean = split_batches(
                pm.Normal("experiment_raw", 0, scale, dims="batch"), batch_line)
            pm.Deterministic("experiment_effect", effect, dims="batch")
            population = in_sample - line_mean[group_line]
            eta = in_sample[group] + effect[batch]
            if deviation:
                cell = pm.Data("cell_index", samples.cell.to_numpy(), dims="obs")
                deviation_sd = pm.Gamma("deviation_sd", alpha=2, beta=2 / priors.deviation_sd)
                z = pm.Normal("deviation_z", 0, 1, dims="cell")
                cell_group = samples.groupby("cell").group.first().to_numpy()
                move, group_mean = split_batches(deviation_sd * z, cell_group)
                pm.Deterministic("deviation", move, dims="cell")
                population = population - group_mean
                eta = eta + move[cell]
            logit_fraction = pm.Deterministic("logit_fraction", population, dims="group")
        else:
            logit_fraction = pm.Normal("logit_fraction", np.log(0.1 / 0.9), priors.fraction_sd,
                                       dims="group")
            eta = logit_fraction[group]
        log_kappa = pm.Normal("log_kappa", priors.log_kappa_mean, priors.log_kappa_sd)
        kappa = pm.Deterministic("kappa", pm.math.exp(log_kappa))
        p = pm.math.invlogit(eta)
        # counts held as floats in pm.Data, so a compiled model takes new counts (integer
        # data are cast, which fixes them into the graph); the likelihood is the beta-binomial
        observed = pm.Data("observed_apoptotic", samples.apoptotic.to_numpy(float),
                           dims="obs")
        pm.CustomDist("apoptotic", total, p * kappa, (1 - p) * kappa, logp=_beta_binomial_logp,
                      random=_beta_binomial_random, observed=observed, dims="obs")
        fraction = pm.Deterministic("fraction", pm.math.invlogit(logit_fraction), dims="group")
        log_or = pm.Deterministic("log_odds_ratio", pm.math.dot(weights, logit_fraction),
                                  dims="effect")
        pm.Deterministic("odds_ratio", pm.math.exp(log_or), dims="effect")
        pm.Deterministic("percentage_points", 100 * pm.math.dot(weights, fraction),
                         dims="effect")
    return model


def has_deviation(data: ApoptosisData) -> bool:
    """A group's move between experiments is a term only when a group was seen in two or
    more experiments and a group x experiment cell holds two or more tubes: with one tube
    per cell it is the beta's over-dispersion itself."""
    samples = data.samples
    return bool(samples.groupby("group").experiment.nunique().max() > 1
                and np.bincount(samples.cell).max() >= 2)


def _beta_binomial_logp(value, n, alpha, beta):
    counts = pt.cast(pt.round(value), "int64")
    return pm.logp(pm.BetaBinomial.dist(n=pt.cast(n, "int64"), alpha=alpha, beta=beta), counts)


def _beta_binomial_random(n, alpha, beta, rng=None, size=None):
    return rng.binomial(np.asarray(n, dtype="int64"), rng.beta(alpha, beta, size=size),
                        size=size).astype(float)


def model_terms(data: ApoptosisData, priors: ApoptosisPriors = ApoptosisPriors()) -> dict:
    """Which terms the design has and whether their scales are learnt (for run.json)."""
    terms = {"logit_fraction": {"scale": "fixed", "sd": priors.fraction_sd,
                                "values": len(data.groups)},
             "overdispersion": {"scale": "learnt", "sd": priors.log_kappa_sd,
                                "values": len(data.samples)}}
    if len(data.batches) > 1:
        terms["experiment_effect"] = {"scale": "learnt" if len(data.batches) >= MIN_BATCHES
                                      else "fixed", "sd": priors.experiment_sd,
                                      "values": len(data.batches)}
    if has_deviation(data):
        terms["deviation"] = {"scale": "learnt", "sd": priors.deviation_sd,
                              "values": len(data.cells)}
    return terms
