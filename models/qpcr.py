"""Hierarchical model of qPCR Cts: ΔΔCt from the Cts themselves.

For reaction ``w`` of gene ``g`` in sample ``s`` (condition ``c``, normalisation group
``k`` of ``g``, experiment ``e``, plate ``p``), in log2 template units::

    q_w   = effect[g, c] + loading[s, k] + bio[s, g] + exp[e, g]
    loading[s, k] = loading_condition[k, c] + dev[s, k]
    mu_w  = ct0[g] + plate[p] - q_w / log2(E_g)
    detected Ct:  Ct_w ~ (1 - pi) * StudentT(nu, mu_w, noise_sd[g])
    missing Ct:   (1 - pi) * P(Ct > max_cycle | Normal(mu_w, noise_sd[g])) + pi

(``noise_sd`` per gene when technical replicates pin it, else one scale for all.)

Every block of deviations sums to zero where its overall level would otherwise trade
off with another term (a ridge NUTS samples slowly or not at all): the zero-sum normal
of each block is written as an orthonormal basis times free Normals (:func:`zero_sum_basis`).

- **Loading** (cDNA amount) is shared by every gene of a sample's normalisation group
  (a microRNA and its small-RNA reference share one, an mRNA and GAPDH another):
  ``loading_condition`` (zero-sum over conditions, wide prior) plus sample deviations
  ``dev`` (sd ``loading_sd``) that sum to zero within each condition, so the overall
  level of the loadings is no ridge with ``ct0`` (Livak's separate tubes with free
  deviations: R-hat up to 1.013 on ``ct0``, ESS ~500 after 2-3 batches; zero-sum: R-hat
  <= 1.008, ESS ~900 in one batch).
  Centred when ``loading_sd`` is learnt (>= 3 genes pin every sample), else the scale is
  a constant and the non-centred ``loading_z`` is the same geometry.
- **Gene x condition effects** are zero-sum over conditions per gene; a target's are
  wide, a **reference gene's are shrunk towards zero** (``reference_sd``; learnt only
  when at least ``MIN_VALUES`` differences between reference genes of one group inform
  it: one reference's effects are confounded with its group's ``loading_condition``):
  reference genes anchor the loading without being assumed perfectly stable (Matz,
  Wright & Scott 2013, PLoS ONE 8:e71448). Their posterior effects are the stability
  report.
  A target's effect is sampled as its **apparent** change ``target_apparent`` (effect
  plus its group's ``loading_condition``; the wide prior sits on it), which its own Cts
  pin, so the loading change is no ridge through every target's effect (a 96-gene panel
  with one loading per condition: R-hat 1.058 and ESS 37 on ``loading_condition`` when
  the effects were sampled directly). A target with **no reaction in a condition** has
  there an independent Normal(0, ``target_effect_sd``), the prior alone, and zero-sum
  over its measured conditions only (:func:`_target_apparent`); zero-sum over all
  conditions tied ``ct0`` and its measured changes to those sd-3 cells (syeddans' plate
  maps, 18 such cells, simulated Cts on that layout: R-hat 1.13 against 1.06 with 150
  draws). ``model_terms`` counts them (``prior_only_cells``): their folds are the prior's.
- **Technical replicates** nest in biological ones: the reactions of one sample and
  gene (the data's ``sample``, which a long file must name) share that sample's
  ``loading`` and ``bio`` and differ by the well noise alone, so n samples of technical
  triplicates inform a condition effect as n biological replicates, not 3n. ``bio``
  (sample x gene, centred, sd ``bio_sd``) enters only when some sample has technical
  replicates of a gene, and sums to zero over the genes of each sample's group (their
  common part is the loading); otherwise the residual is the biological variation.
- **Experiments and plates**: ``exp`` (``experiment_effect``, gene x experiment, log2
  units, zero-sum over experiments and over the genes of each group: its common part is
  the loadings of that experiment's samples) and ``plate`` (``plate_effect``, cycles),
  non-centred. Plate offsets sum to zero within each **plate group** (:func:`plate_groups`:
  plates joined by samples measured on both): when each replicate's samples sit on that
  replicate's plates only, a group's mean offset is a shift of all its samples' loadings,
  which the data cannot tell apart, so the loadings carry it and the plates the
  within-group contrasts (a plate alone in its group has no effect). The folds do not
  depend on the split: a loading cancels between a sample's genes (exactly at equal
  efficiencies). (Zero-sum over all 44 plates of syeddans' six replicate folders left 5
  such ridges; simulated Cts on that layout: ESS 43 on ``plate_z`` against 114 with
  150 draws.) Plates all in one group: PyMC's zero-sum normal, as before.
- **Efficiency** ``E_g``: 2, or given, or estimated jointly from a dilution series
  (``Cq = intercept - log2(amount) / log2(E)``), with ``log2 E ~ Beta`` so E <= 2 (Matz
  et al.'s chrom dilutions: least squares 2.017, capped posterior 1.993 against the
  published 1.98; an uncapped prior on log2 E gave 2.016).
- **Missing Cts** are a mixture of a non-detect (censored above the cycle limit) and a
  failed reaction (probability ``pi``, Beta(1, 49) prior): a missing well beside
  replicates at 15 cycles is read as failed and does not drag the sample; a missing well
  of a gene near the limit is read as censored. The censored tail is Normal's (the
  Student-t cdf costs a regularised incomplete beta in the graph), through erfc
  (:func:`_normal_log_ccdf`: half the gradient time of PyMC's erfcx-based logccdf).

Named quantities: ``log2_effect`` (gene, condition), ``log2_fold`` (gene, comparison),
``efficiency`` (gene), ``dilution_efficiency`` (dilution_gene).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chemoshift.data.qpcr import QpcrData
from chemoshift.data.qpcr_references import Dilutions

MIN_VALUES = 6  # a hierarchical scale is learnt from at least this many values, else fixed
GENES_FOR_LOADING_SD = 3  # with two genes a sample's loading and the genes' noise trade off


@dataclass(frozen=True)
class QpcrPriors:
    """Prior scales, in cycles (Ct) or log2 template units (1 = two-fold) as named."""

    ct_mean: float = 25.0  # Ct of a gene's average sample ...
    ct_sd: float = 10.0  # ... anywhere in 5-45 cycles
    target_effect_sd: float = 3.0  # log2: a target's condition effects up to ~64-fold
    reference_sd: float = 0.05  # log2: a reference gene moves ~3.5% between conditions
    loading_condition_sd: float = 2.0  # log2: condition means of cDNA amount differ freely
    loading_sd: float = 0.5  # log2: sample-to-sample cDNA amount (Gamma(2) mean if learnt)
    bio_sd: float = 0.3  # log2: a gene in one biological sample vs its condition
    experiment_sd: float = 0.3  # log2: a gene moves between independent experiments
    plate_sd: float = 0.2  # cycles: plate-to-plate offset
    noise_sd: float = 0.5  # cycles: half-normal scale of technical (well) noise
    nu_alpha: float = 2.0  # nu - 2 ~ Gamma(2, 0.1): mean 22, heavy enough for outlier
    nu_beta: float = 0.1  # wells, never Cauchy-like
    fail_alpha: float = 1.0  # failed-reaction probability ~ Beta(1, 49):
    fail_beta: float = 49.0  # ~2% of wells, up to ~6%
    efficiency_alpha: float = 12.0  # log2(E) ~ Beta(12, 1.5): E mostly 1.8-2.0,
    efficiency_beta: float = 1.5  # never above 2 (no reaction more than doubles)
    dilution_noise_sd: float = 0.5  # cycles: half-normal scale of dilution-series noise


DEFAULT_PRIORS = QpcrPriors()


def model_terms(data: QpcrData, priors: QpcrPriors = DEFAULT_PRIORS) -> dict:
    """Which terms the design has and which scales are learnt (recorded in run.json)."""
    genes = data.genes
    # only differences between references of one group inform their spread (one
    # reference's effects are confounded with its group's loading_condition)
    refs_per_group = genes[genes.role == "reference"].groupby("group").size()
    n_ref_values = int((refs_per_group - 1).sum()) * (len(data.conditions) - 1)
    pairs = data.reactions[data.reactions.status == "detected"].groupby(["sample", "gene"]).size()
    n_exp, n_plates = len(data.coords["experiment"]), len(data.coords["plate"])
    n_plate_groups = len(np.unique(plate_groups(data)))
    targets = genes.gene[genes.role == "target"].tolist()
    return dict(
        technical_replicates=bool((pairs > 1).any()),
        noise_per_gene=bool((pairs > 1).any()),
        reference_sd_learnt=n_ref_values >= MIN_VALUES,
        loading_sd_learnt=(len(data.samples) >= MIN_VALUES
                           and genes.groupby("group").size().min() >= GENES_FOR_LOADING_SD),
        experiments=n_exp > 1,
        experiment_sd_learnt=(n_exp - 1) * int((genes.groupby("group").size() - 1).sum())
        >= MIN_VALUES,
        prior_only_cells=int((~_measured_cells(data, targets)).sum()),
        plates=n_plates > n_plate_groups,  # a plate alone in its group has no effect
        plate_groups=n_plate_groups,
        # from >= MIN_VALUES - 1 free contrasts (n - 1 of n plates in one group, as before)
        plate_sd_learnt=n_plates - n_plate_groups + 1 >= MIN_VALUES,
        efficiency_estimated=[g for g in genes.gene
                              if data.dilutions is not None and g in data.dilutions.genes],
    )


def _scale(name: str, value: float, learnt: bool):
    """A Gamma(2) scale with mean ``value`` when learnt, else the constant ``value``."""
    return pm.Gamma(name, alpha=2.0, beta=2.0 / value) if learnt else value


def dilution_likelihood(dilutions: Dilutions, log2_eff, priors: QpcrPriors) -> None:
    """Cq = intercept - log2(amount) / log2(E) + Normal noise, per dilution gene."""
    table = dilutions.table
    index = pd.Index(dilutions.genes)
    gene = index.get_indexer(table.gene)
    intercept = pm.Normal("dilution_intercept", mu=float(table.cq.mean()), sigma=10.0,
                          dims="dilution_gene")
    noise = pm.HalfNormal("dilution_noise_sd", sigma=priors.dilution_noise_sd,
                          dims="dilution_gene")
    centre = float(np.log2(table.amount).mean())
    mu = intercept[gene] - (np.log2(table.amount.to_numpy()) - centre) / log2_eff[gene]
    pm.Normal("dilution_cq", mu=mu, sigma=noise[gene], observed=table.cq.to_numpy(),
              dims="dilution_well")


def build_efficiency_model(dilutions: Dilutions, priors: QpcrPriors = DEFAULT_PRIORS
                           ) -> pm.Model:
    """Efficiencies from a dilution series alone (Matz et al.'s PrimEff, Bayesian)."""
    coords = {"dilution_gene": dilutions.genes, "dilution_well": np.arange(len(dilutions.table))}
    with pm.Model(coords=coords) as model:
        log2_eff = pm.Beta("log2_efficiency", alpha=priors.efficiency_alpha,
                           beta=priors.efficiency_beta, dims="dilution_gene")
        pm.Deterministic("dilution_efficiency", 2.0 ** log2_eff, dims="dilution_gene")
        dilution_likelihood(dilutions, log2_eff, priors)
    return model


def build_model(data: QpcrData, priors: QpcrPriors = DEFAULT_PRIORS, *,
                failure_probability: bool = False) -> pm.Model:
    """Build the Ct model for validated data.

    ``failure_probability`` adds ``p_failed`` (reaction): the probability that each
    missing Ct was a failed reaction rather than a non-detect (for reports; not sampled).
    The observed Cts and the detected mask are ``pm.Data`` (``ct``, ``detected``), so a
    compiled model takes another data set of the same design (``fit(reuse=)``).
    """
    terms = model_terms(data, priors)
    rx, genes = data.reactions, data.genes
    coords = data.coords
    gene_ix = pd.Index(coords["gene"])
    g = gene_ix.get_indexer(rx.gene)
    cond = pd.Index(coords["condition"]).get_indexer(rx.condition)
    s = pd.Index(coords["bio_sample"]).get_indexer(rx["sample"])
    group_ix = pd.Index(coords["group"])
    k = group_ix.get_indexer(genes.group)[g]
    targets = genes.gene[genes.role == "target"].tolist()
    refs = genes.gene[genes.role == "reference"].tolist()
    coords |= {"target": targets, "reference": refs, "reaction": np.arange(len(rx))}
    dilution_genes = data.dilutions.genes if data.dilutions is not None else []
    if dilution_genes:
        coords |= {"dilution_gene": dilution_genes,
                   "dilution_well": np.arange(len(data.dilutions.table))}
    with pm.Model(coords=coords) as model:
        ct = pm.Data("ct", np.where(rx.status == "detected", rx.ct, data.max_cycle),
                     dims="reaction")
        detected = pm.Data("detected", (rx.status == "detected").to_numpy(float),
                           dims="reaction")
        log2_eff = _efficiencies(data, priors, model)

        load_cond = pm.ZeroSumNormal("loading_condition", sigma=priors.loading_condition_sd,
                                     dims=("group", "condition"))
        # a target's apparent change (its effect plus its group's loading change) is what
        # its Cts pin: sampled as such, its effect is that minus the loading change
        target_group = group_ix.get_indexer(genes.set_index("gene").group.loc[targets])
        target_effect = (_target_apparent(model, data, targets, priors.target_effect_sd)
                         - load_cond[target_group])
        ref_sd = _scale("reference_sd", priors.reference_sd, terms["reference_sd_learnt"])
        reference_effect = ref_sd * pm.ZeroSumNormal(  # non-centred: the scale may be ~0
            "reference_z", sigma=1.0, dims=("reference", "condition"))
        order = pd.Index(targets + refs).get_indexer(coords["gene"])
        effect = pm.Deterministic("log2_effect", pt.concatenate(
            [target_effect, reference_effect], axis=0)[order], dims=("gene", "condition"))
        cix = pd.Index(coords["condition"])
        num = np.array([cix.get_loc(c) for c, _ in data.comparisons], dtype=int)
        den = np.array([cix.get_loc(c) for _, c in data.comparisons], dtype=int)
        pm.Deterministic("log2_fold", effect[:, num] - effect[:, den],
                         dims=("gene", "comparison"))

        sample_cond = pd.Index(coords["condition"]).get_indexer(
            data.samples.set_index("sample").condition.loc[coords["bio_sample"]])
        loading = load_cond[:, sample_cond].T + _sample_loadings(
            model, sample_cond, priors, terms["loading_sd_learnt"])
        q = effect[g, cond] + loading[s, k]
        if terms["technical_replicates"]:
            q = q + _biological(model, s, g, k, len(gene_ix), priors)
        if terms["experiments"]:
            e = pd.Index(coords["experiment"]).get_indexer(
                data.samples.set_index("sample").experiment.loc[rx["sample"]])
            q = q + _experiments(model, data, priors, terms["experiment_sd_learnt"])[g, e]
        ct0 = pm.Normal("ct0", mu=priors.ct_mean, sigma=priors.ct_sd, dims="gene")
        mu = ct0[g] - q / log2_eff[g]
        if terms["plates"]:
            p = pd.Index(coords["plate"]).get_indexer(rx.plate)
            plate_sd = _scale("plate_sd", priors.plate_sd, terms["plate_sd_learnt"])
            mu = mu + _plates(model, plate_groups(data), plate_sd)[p]
        if terms["noise_per_gene"]:
            noise = pm.HalfNormal("noise_sd", sigma=priors.noise_sd, dims="gene")[g]
        else:  # one scale: without replicates a gene's own scale trades off with the loading
            noise = pm.HalfNormal("noise_sd", sigma=priors.noise_sd)
        nu = 2.0 + pm.Gamma("nu_minus_2", alpha=priors.nu_alpha, beta=priors.nu_beta)
        fail = pm.Beta("p_fail", alpha=priors.fail_alpha, beta=priors.fail_beta)
        ok = pt.log1p(-fail)
        found = ok + pm.logp(pm.StudentT.dist(nu=nu, mu=mu, sigma=noise), ct)
        censored = ok + _normal_log_ccdf((data.max_cycle - mu) / noise)
        missing = pt.logaddexp(censored, pt.log(fail))
        pm.Potential("detected_ct", pt.sum(detected * found))
        pm.Potential("missing_ct", pt.sum((1.0 - detected) * missing))
        if failure_probability:
            pm.Deterministic("p_failed", (1.0 - detected) * pt.exp(pt.log(fail) - missing),
                             dims="reaction")
    return model


def _measured_cells(data: QpcrData, targets: list[str]) -> np.ndarray:
    """(target, condition) booleans: the target has a reaction (a Ct or a missing one)
    in the condition (``coords["condition"]`` order)."""
    pairs = pd.MultiIndex.from_frame(data.reactions[["gene", "condition"]])
    return np.array([[(t, c) in pairs for c in data.coords["condition"]] for t in targets],
                    dtype=bool).reshape(len(targets), len(data.coords["condition"]))


def _target_apparent(model: pm.Model, data: QpcrData, targets: list[str], sd: float):
    """Targets' apparent changes (target, condition), log2 units: zero-sum over the
    conditions in which the target has reactions, an independent Normal(0, ``sd``) in
    each condition where it has none. Such a cell is the prior alone; in the zero-sum
    over all conditions it tied ``ct0`` and every measured change of the gene to a sd-3
    direction the data cannot narrow (a ridge for NUTS). Every cell measured: PyMC's
    zero-sum normal, as before."""
    conditions = model.coords["condition"]
    measured = _measured_cells(data, targets)
    if measured.all():
        return pm.ZeroSumNormal("target_apparent", sigma=sd, dims=("target", "condition"))
    cells = measured.ravel()
    own = np.arange(cells.size) + len(targets)  # an unmeasured cell: a level of its own
    labels = np.where(cells, np.repeat(np.arange(len(targets)), len(conditions)), own)
    basis = np.concatenate([zero_sum_basis(labels), np.eye(cells.size)[:, ~cells]], axis=1)
    model.add_coord("target_basis", np.arange(basis.shape[1]))
    free = sd * pm.Normal("target_apparent_z", 0.0, 1.0, dims="target_basis")
    return pm.Deterministic("target_apparent", (pt.as_tensor(basis) @ free).reshape(
        (len(targets), len(conditions))), dims=("target", "condition"))


def _normal_log_ccdf(z):
    """log P(Z > z) of a standard Normal via erfc, with z clipped at 30 (log P = -454,
    far below any failed-reaction probability it is mixed with). PyMC's logccdf switches
    to erfcx for large z, which costs twice the whole Student-t likelihood in the numba
    graph; a missing Ct's z is rarely above 5."""
    return pt.log(0.5 * pt.erfc(pt.minimum(z, 30.0) / np.sqrt(2.0)))


def zero_sum_basis(labels: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, n - levels) of the vectors that sum to zero within each level
    of ``labels`` (Helmert contrasts per level; a level with one member adds no column)."""
    columns = []
    for level in np.unique(labels):
        members = np.flatnonzero(labels == level)
        for j in range(1, len(members)):
            column = np.zeros(len(labels))
            column[members[:j]] = 1.0
            column[members[j]] = -float(j)
            columns.append(column / np.sqrt(j * (j + 1)))
    return np.stack(columns, axis=1) if columns else np.zeros((len(labels), 0))


def plate_groups(data: QpcrData) -> np.ndarray:
    """Group label of each plate (``coords["plate"]`` order): plates joined, directly or
    through other plates, by a sample's loading (a (sample, normalisation group) pair with
    reactions on both). Plates of different groups share no loading, so an offset common
    to a group's plates is the same as a shift of its samples' loadings."""
    rx, genes = data.reactions, data.genes
    plate = pd.Index(data.coords["plate"]).get_indexer(rx.plate)
    group = genes.set_index("gene").group.loc[rx.gene].to_numpy()
    loading, _ = pd.factorize(pd.Series(list(zip(rx["sample"], group, strict=True))))
    n_plates = len(data.coords["plate"])
    edges = coo_matrix((np.ones(len(rx)), (plate, n_plates + loading)),
                       shape=(n_plates + loading.max() + 1,) * 2)
    return connected_components(edges, directed=False)[1][:n_plates]


def _plates(model: pm.Model, groups: np.ndarray, plate_sd):
    """Plate offsets (plate,) in cycles, non-centred, summing to zero within each plate
    group (:func:`plate_groups`): a group's common offset is its samples' loadings (a
    ridge if both were free), and the groups together are no ridge with ``ct0``. A plate
    alone in its group has no offset. One group: PyMC's zero-sum normal, as before."""
    if len(np.unique(groups)) == 1:
        plate_z = pm.ZeroSumNormal("plate_z", sigma=1.0, dims="plate")
    else:
        basis = zero_sum_basis(groups)
        model.add_coord("plate_basis", np.arange(basis.shape[1]))
        plate_z = pt.as_tensor(basis) @ pm.Normal("plate_z", 0.0, 1.0, dims="plate_basis")
    return pm.Deterministic("plate_effect", plate_sd * plate_z, dims="plate")


def _sample_loadings(model: pm.Model, sample_cond: np.ndarray, priors: QpcrPriors,
                     learnt: bool):
    """Sample deviations of the loading from its condition mean (sample, group), log2 units.

    They sum to zero within each condition (``basis @ loading_basis``, an orthonormal
    basis: the zero-sum normal of each condition's samples), so the overall level of the
    loadings is no ridge with ``ct0`` nor with ``loading_condition``. Centred when the
    scale is learnt (then >= 3 genes pin every sample); otherwise the scale is a constant
    and ``loading_z`` (non-centred) is the same geometry.
    """
    basis = zero_sum_basis(sample_cond)
    if basis.shape[1] == 0:
        return pt.zeros((len(sample_cond), len(model.coords["group"])))
    model.add_coord("loading_basis", np.arange(basis.shape[1]))
    if learnt:
        load_sd = pm.Gamma("loading_sd", alpha=2.0, beta=2.0 / priors.loading_sd)
        free = pm.Normal("loading_dev", 0.0, load_sd, dims=("loading_basis", "group"))
    else:
        free = priors.loading_sd * pm.Normal("loading_z", 0.0, 1.0,
                                             dims=("loading_basis", "group"))
    return pm.Deterministic("loading", pt.as_tensor(basis) @ free,
                            dims=("bio_sample", "group"))


def _biological(model: pm.Model, s: np.ndarray, g: np.ndarray, k: np.ndarray,
                n_genes: int, priors: QpcrPriors):
    """Biological-replicate deviations (reaction,) in log2 units: one per sample and gene,
    summing to zero over the genes of each sample's normalisation group (the group's
    common part is the sample's loading, so the two make no ridge). Non-centred."""
    _, first, pair_ix = np.unique(s * n_genes + g, return_index=True,
                                  return_inverse=True)
    basis = zero_sum_basis(s[first] * (k.max() + 1) + k[first])  # sums within (sample, group)
    if basis.shape[1] == 0:
        return 0.0
    model.add_coord("bio_basis", np.arange(basis.shape[1]))
    bio_sd = pm.Gamma("bio_sd", alpha=2.0, beta=2.0 / priors.bio_sd)
    bio = pm.Normal("bio_dev", 0.0, bio_sd, dims="bio_basis")
    return (pt.as_tensor(basis) @ bio)[pair_ix]


def _experiments(model: pm.Model, data: QpcrData, priors: QpcrPriors, learnt: bool):
    """Experiment effects (gene, experiment) in log2 units, non-centred: zero-sum over
    experiments (else a ridge with ``ct0``) and over the genes of each normalisation
    group (else a ridge with the loadings of that experiment's samples)."""
    genes, n_exp = data.genes, len(data.coords["experiment"])
    blocks = []
    for group in dict.fromkeys(genes.group):
        members = np.flatnonzero((genes.group == group).to_numpy())
        gene_basis = np.zeros((len(genes), len(members) - 1))
        gene_basis[members] = zero_sum_basis(np.zeros(len(members)))
        blocks.append(np.kron(gene_basis, zero_sum_basis(np.zeros(n_exp))))
    basis = np.concatenate(blocks, axis=1)
    if basis.shape[1] == 0:
        return pt.zeros((len(genes), n_exp))
    model.add_coord("experiment_basis", np.arange(basis.shape[1]))
    exp_sd = _scale("experiment_sd", priors.experiment_sd, learnt)
    exp_z = pm.Normal("experiment_z", 0.0, 1.0, dims="experiment_basis")
    return pm.Deterministic("experiment_effect",
                            exp_sd * (pt.as_tensor(basis) @ exp_z).reshape((len(genes), n_exp)),
                            dims=("gene", "experiment"))


def _efficiencies(data: QpcrData, priors: QpcrPriors, model: pm.Model):
    """log2(E) per gene: given, 1 (E = 2), or estimated from the dilution series."""
    given = data.genes.efficiency.to_numpy(float)
    fixed = np.log2(np.where(np.isfinite(given), given, 2.0))
    if data.dilutions is None:
        return pt.as_tensor(fixed)
    estimated = pm.Beta("log2_efficiency", alpha=priors.efficiency_alpha,
                        beta=priors.efficiency_beta, dims="dilution_gene")
    pm.Deterministic("dilution_efficiency", 2.0 ** estimated, dims="dilution_gene")
    dilution_likelihood(data.dilutions, estimated, priors)
    where = pd.Index(data.dilutions.genes).get_indexer(data.genes.gene)
    log2_eff = pt.where(where >= 0, estimated[np.maximum(where, 0)], fixed)
    pm.Deterministic("efficiency", 2.0 ** log2_eff, dims="gene")
    return log2_eff
