"""Log ratio with batch and experiment effects: dual luciferase and Western blot alike.

For observation ``i`` (a well: log firefly/Renilla; a lane: log target/loading) in group
``g`` (construct x treatment; condition x dose), batch ``b`` (experiment; blot) and cell
``c`` (group g in experiment e)::

    log_ratio_i ~ StudentT(nu, group_mean[g] + batch_effect[b] + deviation[c], sigma)
    group_mean[g]   ~ Normal(centre, group_sd)
    batch_effect[b] ~ Normal(0, batch_sd)              (absent with one batch; sampled
                                                        as in split_batches)
    deviation[c]    = deviation_sd * z_c, z_c ~ Normal(0, 1)   (see has_deviation)
    log_contrast[k] = sum_g weights[k, g] * group_mean[g];  ratio[k] = exp(log_contrast[k])

Why the log of the ratio, not the two channels jointly: transfection efficiency (and
lysate or protein loading) multiplies both channels of a well (lane) alike, so their log
ratio cancels it exactly, with no latent efficiency per well to sample; a joint two-channel
model (Repele & Manu 2019) earns its extra parameters only when the normaliser is near
background, which the reader refuses (``--background``). The batch effect moves every ratio
of an experiment (a blot's exposure) together and cancels in a contrast (Normal, not
zero-sum: a group mean is its value across experiments, with that uncertainty); the deviation
moves one group in one experiment and does not, so a contrast's interval widens with the
experiments' disagreement: the experiment, not the well, is the unit of replication.

``batch_sd`` is learnt (Gamma(2) prior) only from ``MIN_BATCHES`` or more batches, fixed
at its prior value below (a scale learnt from three values is a funnel; it cancels in every
contrast anyway). ``nu`` is fixed at 5: an outlier well is down-weighted, not dropped. Log
scale: natural logs throughout.

``deviation_sd`` decides how far the experiments may disagree, so it sets the width of every
contrast. Its prior is Gamma(2) with mean ``priors.deviation_sd`` = 0.3 (P(> 0.3) = 0.41,
P(> 0.6) = 0.09, P(> 0.9) = 0.02, P(< 0.05) = 0.04): weakly informative, centred on what real
experiments show and with room for two to three times it. Measured (issue 21) on a real
dual-luciferase set (Peralta, 23 constructs x 3 cell lines over 14 experiment days, 366
wells): this model with the scale learnt from 124 construct x experiment cells gives
deviation_sd 0.30 (95% 0.21-0.41), well noise 0.30; by hand (cell means after construct +
experiment, less the wells' share) 0.18 in K562 (7 days), 0.51 in MCF10A (4), ~0 in MCF7 (3),
0.31 pooled; a construct's POS_CNTRL-normalised log ratio varies by 0.39 (median sd) from day
to day. Replicate Western blots (rasilab PGK1/H3, 9 groups on two blots each) disagree by
0.17 with lane noise included. The former prior (mean 0.1, P(> 0.3) = 2%) ruled all of that
out, so Western blot shares the wider prior. The scale is non-centred (three wells per cell
pin little) and learnt only when the deviations have ``MIN_DEVIATION_DOF`` or more degrees of
freedom beyond the group means and batch effects (``deviation_dof``); below that it is fixed
at ``priors.deviation_sd`` (a ``pm.Data``, so a compiled model refits at another value), the
intervals lean on that value, and ``chemoshift.mechanism`` refits luciferase at half and twice
it to mark the rows that move (``prior_sensitive``).

A singleton group (one observation: a reporter on one lane of one blot) is pinned by its
lane alone, its mean within ``sigma`` of it: with many, a funnel between ``sigma`` and their
means (rasilab's blots: 30 of 39 groups, 48 lanes, ~7 residual degrees of freedom; R-hat
1.02, E-BFMI 0.25 at the defaults, Normal noise alike). Its free parameter is instead the
lane's standardised residual ``singleton_z`` (dims ``singleton``; the other groups' means
are ``group_in_sample``, dims ``replicated``), and its mean a deterministic::

    in_sample[g] = lane - rest - sigma * z      (rest: the lane's batch and deviation terms)
    density of z: t_nu(z) * Normal(in_sample[g] | centre, group_sd)

The change of variables has Jacobian ``sigma``, which cancels the lane's ``1 / sigma``: the
posterior is exactly the model's (z flat; the group prior and ``log sigma`` in the potential
``singleton_prior``; the lane stays in ``log_ratio``, so replicates keep their meaning). It
is the mean integrated out given the lane's noise (lane ~ Normal(centre + rest + sigma * z,
group_sd)) and drawn back from it; z stays near its t prior whatever ``sigma``: no funnel.
The batch effects are then non-centred too (``batch_raw = batch_sd * batch_z``, exact as
well): a blot holding only singletons has an effect its lanes cannot show (each lane's
offset is its group's), a prior draw that funnels with a learnt ``batch_sd`` when centred
(4 of 48 simulated rasilab-shaped fits diverged at batch_sd ~0.01; none non-centred).
rasilab now: R-hat <= 1.005, E-BFMI >= 0.66, no divergences over seeds, the contrasts as
before within Monte Carlo error. Designs without a singleton group are built as before,
draw for draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from chemoshift.data.log_ratio_files import LogRatioTable
from chemoshift.models.potentials import prior_potential

MIN_BATCHES = 5
MIN_DEVIATION_DOF = 4  # as batch_sd's five batches: four free values


@dataclass(frozen=True)
class LogRatioPriors:
    """Prior scales, natural-log units of the ratio."""

    group_sd: float = 2.0  # group log ratios within ~e^±4 of the data's centre: weak
    batch_sd: float = 0.3  # experiment / blot offsets ~30%; fixed below MIN_BATCHES batches
    deviation_sd: float = 0.3  # prior mean (Gamma(2)) of a group's move between experiments:
    # real luciferase experiments disagree by ~0.3 (module docstring); fixed at it when few
    sigma: float = 0.3  # prior mean of the observation noise (Gamma(2)): ~30% well to well
    nu: float = 5.0  # Student-t degrees of freedom (fixed)


def build_model(table: LogRatioTable, priors: LogRatioPriors = LogRatioPriors()) -> pm.Model:
    """The log-ratio model of ``table`` (see the module docstring).

    Returns a model with coords ``group``, ``batch``, ``cell``, ``contrast``, ``obs`` and
    deterministics ``log_contrast`` / ``ratio`` (contrast); ``log_ratio`` is observed (obs).
    With singleton groups also coords ``replicated`` / ``singleton`` (see the module
    docstring), and ``group_mean`` is a deterministic.
    """
    coords = {"group": table.groups, "batch": table.batches, "cell": table.cells,
              "contrast": list(table.contrasts.name), "obs": np.arange(len(table.log_ratio))}
    single = singleton_groups(table)
    has_single = bool(single.any())
    if has_single:
        coords |= {"replicated": [g for g, s in zip(table.groups, single, strict=True) if not s],
                   "singleton": [g for g, s in zip(table.groups, single, strict=True) if s]}
    centre = float(np.median(table.log_ratio))
    with pm.Model(coords=coords) as model:
        group = pm.Data("group_index", table.group, dims="obs")
        terms, stratum_mean = [], None  # terms: an observation's mean besides its group's
        if len(table.batches) > 1:
            batch = pm.Data("batch_index", table.batch, dims="obs")
            scale = (pm.Gamma("batch_sd", alpha=2, beta=2 / priors.batch_sd)
                     if len(table.batches) >= MIN_BATCHES else priors.batch_sd)
            in_sample = free_means("group_in_sample", single, centre, priors.group_sd)
            raw = (pm.Normal("batch_raw", 0, scale, dims="batch") if not has_single else
                   pm.Deterministic("batch_raw", scale * pm.Normal("batch_z", 0, 1, dims="batch"),
                                    dims="batch"))  # non-centred: see the module docstring
            batch_effect, stratum_mean = split_batches(raw, table.batch_stratum)
            pm.Deterministic("batch_effect", batch_effect, dims="batch")
            if not has_single:
                group_mean = pm.Deterministic(
                    "group_mean", in_sample - stratum_mean[table.group_stratum], dims="group")
            terms.append(batch_effect[batch])
        else:
            in_sample = group_mean = free_means(
                "group_in_sample" if has_single else "group_mean", single, centre,
                priors.group_sd)
        if has_deviation(table):
            cell = pm.Data("cell_index", table.cell, dims="obs")
            deviation_sd = (pm.Gamma("deviation_sd", alpha=2, beta=2 / priors.deviation_sd)
                            if deviation_learnt(table)
                            else pm.Data("deviation_sd_fixed", priors.deviation_sd))
            z = pm.Normal("deviation_z", 0, 1, dims="cell")
            terms.append((deviation_sd * z)[cell])
        sigma = pm.Gamma("sigma", alpha=2, beta=2 / priors.sigma)
        observed = pm.Data("observed_log_ratio", table.log_ratio, dims="obs")  # swappable
        if has_single:
            in_sample = with_singletons(in_sample, table, single, observed, terms, sigma,
                                        centre, priors.group_sd)
            group_mean = pm.Deterministic("group_mean", in_sample if stratum_mean is None
                                          else in_sample - stratum_mean[table.group_stratum],
                                          dims="group")
        mu = in_sample[group]
        for term in terms:
            mu = mu + term
        pm.StudentT("log_ratio", nu=priors.nu, mu=mu, sigma=sigma, observed=observed,
                    dims="obs")
        log_contrast = pm.Deterministic("log_contrast", pm.math.dot(
            table.weights, group_mean), dims="contrast")
        pm.Deterministic("ratio", pm.math.exp(log_contrast), dims="contrast")
    return model


def singleton_groups(table: LogRatioTable) -> np.ndarray:
    """(group,) whether each group has exactly one observation (see the module docstring)."""
    return np.bincount(table.group, minlength=len(table.groups)) == 1


def free_means(name: str, single: np.ndarray, centre: float, group_sd: float):
    """Normal(centre, group_sd) means (natural-log ratio) of the groups not parameterised
    through their lane: every group (dims ``group``) without singletons, else the
    replicated ones (dims ``replicated``); None when every group is a singleton."""
    if single.all():
        return None
    return pm.Normal(name, centre, group_sd, dims="replicated" if single.any() else "group")


def with_singletons(replicated, table: LogRatioTable, single: np.ndarray, observed,
                    terms: list, sigma, centre: float, group_sd: float):
    """Every group's in-sample mean (group,), the singleton groups' through their lane's
    standardised residual ``singleton_z`` (dims ``singleton``): ``mean = lane - rest -
    sigma * z``, ``rest`` the lane's batch and deviation terms (natural-log units). The
    free ``z`` has a flat density; the group prior at ``mean`` and the Jacobian
    ``|d mean / d z| = sigma`` per singleton enter as the potential ``singleton_prior``,
    so the posterior is the model's own (module docstring)."""
    lane = np.array([np.flatnonzero(table.group == g)[0] for g in np.flatnonzero(single)])
    rest = sum(term[lane] for term in terms)  # 0 without batch or deviation terms
    z = pm.Flat("singleton_z", dims="singleton")
    means = observed[lane] - rest - sigma * z
    prior_potential("singleton", pm.logp(pm.Normal.dist(centre, group_sd), means).sum()
                 + len(lane) * pm.math.log(sigma))
    values = pt.zeros(len(table.groups))
    if replicated is not None:
        values = pt.set_subtensor(values[np.flatnonzero(~single)], replicated)
    return pt.set_subtensor(values[np.flatnonzero(single)], means)


def split_batches(raw, stratum: np.ndarray):
    """Batch effects ``raw`` (iid Normal) as their stratum means and the deviations from
    them (zero-sum within each stratum). The same model, sampled without the ridge between
    group means and batch effects: only the deviations enter the likelihood, and the
    stratum mean (its posterior is its prior, N(0, batch_sd^2 / n)) moves the population
    group means, so they keep the uncertainty of having seen only a few batches."""
    n_strata = int(stratum.max()) + 1
    averaging = np.zeros((n_strata, len(stratum)))
    averaging[stratum, np.arange(len(stratum))] = 1.0
    averaging /= averaging.sum(axis=1, keepdims=True)
    stratum_mean = pm.math.dot(averaging, raw)
    return raw - stratum_mean[stratum], stratum_mean


def has_deviation(table: LogRatioTable) -> bool:
    """A group's move between experiments is a term only with several experiments and a
    cell of two or more observations: with one per cell it is the noise itself."""
    return table.experiments > 1 and np.bincount(table.cell).max() >= 2


def deviation_dof(table: LogRatioTable) -> int:
    """Degrees of freedom of the deviations: cells less what the group means and the batch
    effects (zero-sum within their stratum) absorb. Three experiments of 2 cell lines x 4
    groups leave 24 - 8 - (6 - 2) = 12; two experiments of one line x 4 groups leave 3."""
    strata = int(table.batch_stratum.max()) + 1 if len(table.batch_stratum) else 1
    return max(len(table.cells) - len(table.groups) - (len(table.batches) - strata), 0)


def deviation_learnt(table: LogRatioTable) -> bool:
    """Whether ``deviation_sd`` is learnt (else fixed at its prior value)."""
    return deviation_dof(table) >= MIN_DEVIATION_DOF


def model_terms(table: LogRatioTable, priors: LogRatioPriors = LogRatioPriors()) -> dict:
    """Which terms the design has and whether their scales are learnt (for run.json)."""
    terms = {"group_mean": {"scale": "fixed", "sd": priors.group_sd, "values": len(table.groups)}}
    n_single = int(singleton_groups(table).sum())
    if n_single:  # parameterised through their lane (module docstring)
        terms["group_mean"]["singletons"] = n_single
    if len(table.batches) > 1:
        terms["batch_effect"] = {"scale": "learnt" if len(table.batches) >= MIN_BATCHES
                                 else "fixed", "sd": priors.batch_sd,
                                 "values": len(table.batches)}
    if has_deviation(table):
        terms["deviation"] = {"scale": "learnt" if deviation_learnt(table) else "fixed",
                              "sd": priors.deviation_sd, "values": len(table.cells),
                              "dof": deviation_dof(table)}
    return terms
