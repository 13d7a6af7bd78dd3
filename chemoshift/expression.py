"""One object a script holds for a two-group differential-expression analysis.

    import chemoshift

    fit = chemoshift.fit_expression("GDS507.soft.gz")          # pairs and groups from GDS
    fit = chemoshift.fit_expression("GSE781_family.soft.gz", platform="GPL97")  # unpaired
    fit.de()                    # the table of de.csv: log2 fold changes, P(up), P(top N)
    fit.save("runs/gds507")     # a complete run directory (report.html included)
    chemoshift.load("runs/gds507")

How the posterior is computed (say it wherever it is shown): the hierarchical model of
:mod:`chemoshift.models.expression`, hyperparameters by empirical Bayes (maximum marginal
likelihood over all probes), then exact independent draws of every probe from its
conjugate posterior. The design is paired (within-pair differences) or unpaired (two
independent groups: the difference of the group means), chosen from the data unless
``design=`` says (:mod:`chemoshift.data.expression_design`); both share one variance
prior and one effect-size mixture. No Markov chain: the "diagnostics" are the
optimiser's convergence (plus R-hat / ESS of the draws for the record).
:func:`subset_model` writes the same model out for NUTS on a subset of probes
(hyperparameters fixed); :mod:`chemoshift.expression_nuts` runs that comparison (a slow
test and the benchmark do).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr
from xarray import DataTree

from chemoshift import fit_object
from chemoshift.assay import Assay
from chemoshift.data import run_dir as files
from chemoshift.data.geo import ExpressionData, read_expression
from chemoshift.fit_object import DEFAULT_MARGIN, AssayFit
from chemoshift.inference import Diagnostics, SamplerSettings
from chemoshift.inference.diagnostics import diagnose
from chemoshift.models.expression import (
    ExpressionPriors,
    Hyper,
    ProbeStats,
    draw_effects,
    fit_hyper,
    group_stats,
    probe_stats,
)
from chemoshift.reports.expression import report as expression_report
from chemoshift.reports.expression import tables as expression_tables
from chemoshift.reports.expression.tables import DEFAULT_TOP, de_table

TOTAL_DRAWS = 600  # joint posterior draws kept (all chains): P(top N) to about +-0.02
DIAGNOSED_PROBES = 50
METHOD = ("empirical Bayes (maximum marginal likelihood over all probes) for the variance "
          "prior and the effect-size mixture, then exact independent draws of every probe "
          "from its conjugate normal-inverse-gamma posterior (no Markov chain)")
CONTRASTS = ("unpaired design: each probe's two groups as n_c + n_t - 1 one-sample values "
             "whose mean is the difference of the group means and whose one-sample t is the "
             "pooled two-sample t (chemoshift.data.expression_design.equivalent_contrasts)")
DEMO_FILE = "expression_subset.soft.gz"
DEMO_NETWORK = "string_network_dlbcl.tsv"


@dataclass(frozen=True)
class ExpressionDiagnostics(Diagnostics):
    """Diagnostics of exact draws: the verdict rests on the empirical-Bayes optimiser."""

    method: str = METHOD

    @property
    def verdict(self) -> str:
        if self.passed:
            return ("converged: exact independent draws (no Markov chain); empirical-Bayes "
                    "optimum found")
        return "NOT CONVERGED: " + "; ".join(self.failures)


@dataclass(eq=False, repr=False)
class ExpressionFit(AssayFit):
    """A fitted DE model (paired or unpaired): posterior draws of every probe's log2 fold
    change.

    Attributes mirror :class:`~chemoshift.dose_response.DoseResponseFit`; ``hyper`` holds
    the empirical-Bayes hyperparameters, ``top`` the N of P(top N).
    """

    assay: ClassVar[str] = "expression"

    data: ExpressionData | None
    priors: ExpressionPriors
    hyper: Hyper | None = None
    top: int = DEFAULT_TOP
    _saved_probes: pd.DataFrame | None = field(default=None, init=False)

    @property
    def probes(self) -> pd.DataFrame:
        """probe, gene and the values behind each probe's estimate, in model order: n_pairs
        (pairs with both values) or, unpaired, n_control and n_treated."""
        if self.data is None:
            return self._saved_probes
        table = pd.DataFrame({"probe": self.data.probes, "gene": self.data.genes})
        if self.data.design == "paired":
            table["n_pairs"] = np.isfinite(self.data.differences).sum(axis=1)
        else:
            finite = np.isfinite(self.data.values)
            table["n_control"] = finite[:, ~self.data.treated_mask].sum(axis=1)
            table["n_treated"] = finite[:, self.data.treated_mask].sum(axis=1)
        return table

    def de(self, top: int | None = None) -> pd.DataFrame:
        """The de.csv table (one row per probe); ``top`` overrides N of P(top N)."""
        probes = self.probes
        draws = self.datatree["posterior"]["log2fc"].values
        return de_table(draws.reshape(-1, draws.shape[-1]), probes.probe.to_numpy(str),
                        probes.gene.to_numpy(str),
                        self.datatree["observed_data"]["differences"].values,
                        top=top or self.top)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> ExpressionFit:
        """Read an expression run directory back (no model, no fitting)."""
        fields = cls.saved_fields(run_dir, ("probes.csv",), priors=ExpressionPriors,
                                  diagnostics=ExpressionDiagnostics)
        fields["priors"] = dataclasses.replace(fields["priors"], effect_grid=tuple(
            fields["priors"].effect_grid))  # a list in run.json
        top = fields["read_options"].get("top") or DEFAULT_TOP
        loaded = cls(**fields, top=int(top))
        run_dir = loaded.run_dir
        loaded._saved_probes = pd.read_csv(run_dir / "probes.csv", dtype={"probe": str,
                                           "gene": str}, keep_default_na=False)
        return loaded

    def __repr__(self) -> str:
        probes = self.probes
        observed = self.datatree["observed_data"]
        size = (f"{observed.sizes['pair']} pairs" if "pair" in observed.sizes else
                f"unpaired, {observed.sizes.get('sample', 0)} samples")
        lines = [f"ExpressionFit {self.title or ''!r}: {len(probes)} probes, {size}",
                 f"  diagnostics: {self.diagnostics.verdict}"]
        table = self.de().head(5)
        lines.append(f"  most likely in the top {self.top} (P(top N), log2 fold change, 95%):")
        for _, row in table.iterrows():
            lines.append(f"    {row.gene or row.probe}: {row.p_top:.2f}, "
                         f"{row.log2fc_median:.2f} ({row['log2fc_q2.5']:.2f} to "
                         f"{row['log2fc_q97.5']:.2f})")
        if self.run_dir is not None:
            lines.append(f"  run directory: {self.run_dir}")
        return "\n".join(lines)


def fit_expression(
    source: str | Path | ExpressionData,
    *,
    pairs: str | None = None,
    group: str | None = None,
    control: str | None = None,
    samples: str | Path | None = None,
    annotation: str | Path | None = None,
    design: str = "auto",
    platform: str | None = None,
    top: int = DEFAULT_TOP,
    priors: ExpressionPriors | Mapping[str, Any] | None = None,
    settings: SamplerSettings | None = None,
    margin: float = DEFAULT_MARGIN,
    title: str | None = None,
) -> ExpressionFit:
    """Read an expression file, fit the hierarchical DE model to every probe.

    Parameters
    ----------
    source : GEO SOFT (GDS / GSE family), series matrix or plain table (see
        :func:`chemoshift.data.geo.read_expression`), or an ``ExpressionData``.
    pairs, group, control, samples, annotation, design, platform : as ``read_expression``
        (design: ``auto``, ``paired`` or ``unpaired``; platform: a GSE family's GPL id).
    top : N of P(top N) (default 300).
    priors : :class:`~chemoshift.models.expression.ExpressionPriors` or overrides by name.
    settings : seed and draws (``draws`` per chain is used as given when
        ``extend=False``; otherwise 600 draws in all, split over ``chains``).
    """
    started = files.now()
    settings = settings if settings is not None else SamplerSettings()
    priors = _priors(priors)
    if int(top) < 1:
        raise ValueError(f"top {top}: expected a positive number of genes")
    read_options = dict(pairs=pairs, group=group, control=control,
                        samples=str(samples) if samples else None,
                        annotation=str(annotation) if annotation else None, design=design,
                        platform=platform, top=int(top))
    if isinstance(source, ExpressionData):
        data, title = source, title or "expression fit"
    else:
        data = read_expression(source, pairs=pairs, group=group, control=control,
                               samples=samples, annotation=annotation, design=design,
                               platform=platform)
        title = title or Path(source).name.split(".")[0]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    stats = expression_stats(data)
    usable = stats.usable
    if not usable.all():
        data, stats = _drop_probes(data, usable), stats.take(usable)
    differences = data.contrasts
    hyper = fit_hyper(stats, priors)
    timings["empirical_bayes_seconds"] = time.perf_counter() - start
    chains = settings.n_chains
    per_chain = settings.first_draws if not settings.extend else math.ceil(TOTAL_DRAWS / chains)
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    draws = draw_effects(stats, hyper, chains * per_chain, rng)
    timings["sampling_seconds"] = time.perf_counter() - start
    datatree = _datatree(draws.reshape(chains, per_chain, -1), data, differences, hyper)
    diagnostics = _diagnose(datatree, hyper, rng)
    return ExpressionFit(data=data, datatree=datatree, diagnostics=diagnostics,
                         settings=settings, priors=priors, hyper=hyper, top=int(top),
                         margin=margin, title=title, timings=timings,
                         read_options=read_options, started=started)


def demo_input() -> tuple[Path, dict]:
    """The bundled GDS507 subset and the read options that fit it (none: a GDS file)."""
    example = resources.files("chemoshift.data.example") / DEMO_FILE
    return Path(str(example)), {}


def demo_network() -> Path:
    """The bundled offline network file of the demo's hub step: a real STRING export
    (CC BY 4.0) of 63 DLBCL immune genes, not the network of the demo's own genes (see
    data/example/README.md: on GDS507's platform 10 of its genes are measured, none
    linked, so the demo's hub step runs offline but finds no hubs)."""
    return Path(str(resources.files("chemoshift.data.example") / DEMO_NETWORK))


def demo_steps(run_dir: str | Path) -> int:
    """The demo's steps after the fit, offline: ``enrich`` with the bundled KEGG_2016 gene
    sets and ``network`` with :func:`demo_network`. Returns the first non-zero exit code
    (0 when both ran); the run directory's report is rewritten by each."""
    from chemoshift.expression_commands import run_step  # the commands sit above the fit

    for argv in (["enrich", str(run_dir)],
                 ["network", str(run_dir), "--network", str(demo_network())]):
        code = run_step(argv)
        if code:
            return code
    return 0


def expression_stats(data: ExpressionData) -> ProbeStats:
    """Every probe's sufficient statistics under the data's design (paired: the within-pair
    differences; unpaired: the two groups)."""
    if data.design == "paired":
        return probe_stats(data.differences)
    return group_stats(data.values, data.treated_mask)


def describe(data: ExpressionData, priors: ExpressionPriors) -> dict:
    """What run.json records about the data (``design`` and why: ``design_reason``)."""
    roles = data.samples["role"].value_counts()
    return dict(format=data.fmt, n_probes=int(data.n_probes), pairs=list(data.pairs),
                control=data.control, treated=data.treated, unpaired=list(data.unpaired),
                log_transformed=data.log_transformed, notes=list(data.notes),
                n_genes=len(set(data.genes) - {""}), method=METHOD, design=data.design,
                design_reason=data.design_reason, n_control=int(roles.get("control", 0)),
                n_treated=int(roles.get("treated", 0)))


def save_inputs(result: ExpressionFit, run_dir: Path) -> None:
    """probes.csv (model order), samples.csv and expression.csv (log2, modelled samples)."""
    files.write_csv(run_dir / "probes.csv", result.probes)
    if result.data is not None:
        files.write_csv(run_dir / "samples.csv", result.data.samples)
        values = pd.DataFrame(result.data.values, columns=list(result.data.samples["sample"]))
        values.insert(0, "probe", result.data.probes)
        files.write_csv(run_dir / "expression.csv", values)
    else:
        for name in ("samples.csv", "expression.csv"):
            if result.run_dir is not None and (Path(result.run_dir) / name).is_file():
                files.write_text(run_dir / name, (Path(result.run_dir) / name).read_text())


def _datatree(draws: np.ndarray, data: ExpressionData, differences: np.ndarray,
              hyper: Hyper) -> DataTree:
    probes = list(data.probes)
    posterior = xr.Dataset(
        {"log2fc": (("chain", "draw", "probe"), draws)},
        coords={"chain": np.arange(draws.shape[0]), "draw": np.arange(draws.shape[1]),
                "probe": probes})
    if data.design == "paired":
        observed = xr.Dataset({"differences": (("probe", "pair"), differences)},
                              coords={"probe": probes, "pair": list(data.pairs)})
    else:  # the classical peer's input (see equivalent_contrasts) and the data themselves
        observed = xr.Dataset(
            {"differences": (("probe", "contrast"), differences, {"description": CONTRASTS}),
             "values": (("probe", "sample"), data.values),
             "treated": ("sample", data.treated_mask)},
            coords={"probe": probes, "contrast": np.arange(differences.shape[1]),
                    "sample": list(data.samples["sample"])})
    hyperparameters = xr.Dataset(
        {"d0": hyper.d0, "s0_sq": hyper.s0_sq,
         "weights": ("component", hyper.weights),
         "effect_grid": ("component", hyper.effect_grid)},
        coords={"component": np.arange(len(hyper.weights))})
    return DataTree.from_dict({"posterior": posterior, "observed_data": observed,
                               "hyperparameters": hyperparameters,
                               "sample_stats": xr.Dataset()})


def _diagnose(datatree: DataTree, hyper: Hyper, rng: np.random.Generator) -> Diagnostics:
    probes = datatree["posterior"].sizes["probe"]
    chosen = np.sort(rng.choice(probes, size=min(DIAGNOSED_PROBES, probes), replace=False))
    small = DataTree.from_dict({
        "posterior": datatree["posterior"].to_dataset().isel(probe=chosen),
        "sample_stats": xr.Dataset()})
    base = diagnose(small, ["log2fc"]) if datatree["posterior"].sizes["draw"] > 3 else None
    failures = [] if hyper.converged else [f"empirical-Bayes optimiser: {hyper.message}"]
    return ExpressionDiagnostics(
        max_rhat=base.max_rhat if base else np.nan,
        min_ess_bulk=base.min_ess_bulk if base else np.nan,
        min_ess_tail=base.min_ess_tail if base else np.nan, divergences=0, min_bfmi=np.nan,
        worst_rhat_variable="log2fc", worst_ess_variable="log2fc",
        checked_variables=[str(p) for p in datatree["posterior"].probe.values[chosen]],
        failures=failures)


def _drop_probes(data: ExpressionData, keep: np.ndarray) -> ExpressionData:
    short = ("fewer than two complete pairs" if data.design == "paired" else
             "no value in a group or fewer than three values")
    note = f"{int((~keep).sum())} probe(s) with {short} left out of the model"
    return dataclasses.replace(data, values=data.values[keep], probes=data.probes[keep],
                               genes=data.genes[keep], notes=(*data.notes, note))


def _priors(priors) -> ExpressionPriors:
    return fit_object.resolve_priors(ExpressionPriors, priors, "expression model's")


def subset_model(data: ExpressionData, priors: ExpressionPriors | None = None,
                 probes: np.ndarray | None = None, hyper: Hyper | None = None):
    """The DE model written out for NUTS on a subset of probes (default: the first 200 with
    no missing value), hyperparameters fixed at their empirical-Bayes values from all
    probes. Returns ``(pm.Model, probe indices)``; its ``log2fc`` posterior is the one the
    exact draws of :func:`fit_expression` come from (unpaired: one "pair" holding every
    sample, its effect the control mean)."""
    from chemoshift.models.expression import build_subset_model

    priors = priors or ExpressionPriors()
    if hyper is None:
        stats = expression_stats(data)
        hyper = fit_hyper(stats.take(stats.usable), priors)
    sheet = data.samples
    if probes is None:
        probes = np.flatnonzero(np.isfinite(data.values).all(axis=1))[:200]
    if data.design == "paired":
        pair_codes = {p: i for i, p in enumerate(data.pairs)}
        pair_index = sheet["pair"].map(pair_codes).to_numpy(int)
    else:
        pair_index = np.zeros(len(sheet), dtype=int)
    treated = (sheet["role"] == "treated").to_numpy(float)
    model = build_subset_model(data.values[probes], pair_index, treated, hyper,
                               list(data.probes[probes]))
    return model, probes


ASSAYS = {"expression": Assay(
    name="expression", read=read_expression, build=subset_model, priors=ExpressionPriors,
    fit=fit_expression, load=ExpressionFit.from_run_dir, describe=describe,
    save_inputs=save_inputs, write_tables=expression_tables.write_tables,
    write_report=expression_report.write_report)}
