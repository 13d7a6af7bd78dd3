"""The qPCR assay as one object: fit Cts, read the fold table, save, load back.

    import chemoshift

    fit = chemoshift.fit_qpcr("cts.csv", references="miR-379:RNU48,IGF1R:GAPDH",
                              controls={"miR-379 80nM": "miR-NC"})
    fit.folds()               # folds.csv: fold change per gene and comparison
    fit.dose_trend()          # dose.csv, when conditions carry a dose
    fit.save("runs/qpcr1")    # posterior.nc, reactions.csv, genes.csv, run.json, report.html
    chemoshift.load("runs/qpcr1")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
from xarray import DataTree

from chemoshift import fit_object
from chemoshift.assay import Assay
from chemoshift.data import run_dir as files
from chemoshift.data.qpcr import MAX_CYCLE, QpcrData, read_qpcr
from chemoshift.data.qpcr_references import read_dilutions
from chemoshift.fit_object import DEFAULT_MARGIN, AssayFit
from chemoshift.inference import SamplerSettings, fit
from chemoshift.models.qpcr import QpcrPriors, build_efficiency_model, build_model
from chemoshift.reports.qpcr import report as qpcr_report
from chemoshift.reports.qpcr import tables

FAILURE_DRAWS = 200  # posterior draws used for each missing Ct's P(failed reaction)
SMALL_DATA = 100  # reactions below which the target acceptance is 0.99 (Livak's 24 wells,
# one per sample: the noise scale and the loadings trade off); 0.9 above (the bundled
# example, 180 wells: no divergences at 0.9, and 3x fewer steps than at 0.99)
EXAMPLE = "qpcr.csv"
EXAMPLE_OPTIONS = dict(references="miR-379:RNU48,IGF1R:GAPDH", dose="dose_nM",
                       controls={"miR-379 40nM": "miR-NC", "miR-379 80nM": "miR-NC",
                                 "si-IGF1R": "si-NC"})


@dataclass(eq=False, repr=False)
class QpcrFit(AssayFit):
    """A fitted qPCR model: the posterior, what it was fitted from, and how.

    ``reactions`` (one row per reaction, with ``p_failed``: the posterior probability
    that a missing Ct was a failed reaction rather than a non-detect) and ``genes``
    (role, group, first reference, efficiency) are what ``reactions.csv`` and
    ``genes.csv`` hold. ``data`` is None for a fit loaded from a run directory.
    """

    assay: ClassVar[str] = "qpcr"

    data: QpcrData | None
    priors: QpcrPriors
    reactions: pd.DataFrame | None = None
    genes: pd.DataFrame | None = None

    @property
    def comparisons(self) -> list[tuple[str, str]]:
        if self.data is not None:
            return list(self.data.comparisons)
        return [tuple(c) for c in self.record["data"]["comparisons"]]

    @property
    def doses(self) -> dict[str, float]:
        return dict(self.data.doses) if self.data is not None else self.record["data"]["doses"]

    def folds(self) -> pd.DataFrame:
        """The folds.csv table: one row per gene and comparison."""
        return tables.folds_table(self.datatree, self.reactions, self.genes, self.comparisons,
                                  self.margin)

    def dose_trend(self) -> pd.DataFrame:
        """The dose.csv table: fold per dose step and P(monotone decrease), per gene."""
        return tables.dose_table(self.datatree, self.doses)

    def efficiencies(self) -> pd.DataFrame:
        return tables.efficiency_table(self.datatree, self.genes)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> QpcrFit:
        """Read a qPCR run directory back (no model, no sampler)."""
        fields = cls.saved_fields(run_dir, ("reactions.csv", "genes.csv"), priors=QpcrPriors,
                                  what="qPCR")
        return cls(**fields, reactions=read_reactions(fields["run_dir"]),
                   genes=read_genes(fields["run_dir"]))

    def __repr__(self) -> str:
        folds = self.folds()
        lines = [f"QpcrFit {self.title or ''!r}: {len(self.genes)} genes, "
                 f"{len(self.comparisons)} comparison(s), {len(self.reactions)} reactions",
                 f"  diagnostics: {self.diagnostics.verdict}"]
        for _, row in folds.head(8).iterrows():
            lines.append(f"  {row.gene} {row.condition} vs {row.control}: fold "
                         f"{row['median']:.3g} ({row['q2.5']:.3g}-{row['q97.5']:.3g}), "
                         f"P(down) {row.p_down:.2f}")
        return "\n".join(lines)


def read_reactions(run_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(Path(run_dir) / "reactions.csv", keep_default_na=False,
                        na_values=[""], dtype={"sample": str, "condition": str, "gene": str,
                                               "plate": str, "experiment": str})
    return table


def read_genes(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "genes.csv", keep_default_na=False,
                       dtype={"gene": str, "role": str, "group": str, "reference": str}
                       ).assign(efficiency=lambda t: pd.to_numeric(t.efficiency, errors="coerce"))


def fit_qpcr(
    source: str | Path,
    *,
    references: str | Sequence[str] | Mapping[str, str] | None = None,
    condition: str | None = None,
    sample: str | None = None,
    controls: Mapping[str, str] | None = None,
    columns: Mapping[str, str] | None = None,
    genes: Sequence[str] | None = None,
    max_cycle: float = MAX_CYCLE,
    efficiency: Mapping[str, float] | None = None,
    dilutions: str | Path | None = None,
    dose: str | None = None,
    samples: str | Path | None = None,
    exclude_plates: Sequence[str] | None = None,
    priors: QpcrPriors | Mapping[str, float] | None = None,
    settings: SamplerSettings | None = None,
    margin: float = DEFAULT_MARGIN,
    title: str | None = None,
    reuse=None,
) -> QpcrFit:
    """Read a Ct file (long or wide), build the Ct model, sample it.

    See :func:`chemoshift.data.qpcr.read_qpcr` for the reading options (a long file
    names its biological samples: a ``sample`` column, or ``sample=COLUMN``); ``priors``
    overrides :class:`~chemoshift.models.qpcr.QpcrPriors` by name; ``reuse`` a
    ``compile_model`` result for data of the same design.
    """
    started = files.now()
    priors = resolve_priors(priors)
    if not margin > 1:
        raise ValueError(f"margin {margin}: expected a fold change above 1")
    read_options = dict(references=references, condition=condition, sample=sample,
                        controls=dict(controls) if controls else None,
                        columns=dict(columns or {}), genes=list(genes) if genes else None,
                        max_cycle=max_cycle, efficiency=dict(efficiency or {}) or None,
                        dilutions=str(dilutions) if dilutions else None, dose=dose,
                        samples=str(samples) if samples else None)
    if exclude_plates:  # recorded only when given: earlier runs' records stay the same
        read_options["exclude_plates"] = list(exclude_plates)
    data = read_qpcr(source, **read_options)
    settings = settings if settings is not None else SamplerSettings()
    small = len(data.reactions) < SMALL_DATA
    settings = dataclasses.replace(settings, posterior_predictive=False,
                                   target_accept=settings.target_accept
                                   or (0.99 if small else 0.9))
    result = fit(build_model(data, priors), settings, reuse=reuse)
    reactions = data.reactions.assign(p_failed=_failure_probability(data, priors,
                                                                    result.datatree))
    genes_table = data.genes.copy()
    return QpcrFit(data=data, datatree=result.datatree, diagnostics=result.diagnostics,
                   settings=settings, priors=priors, margin=margin,
                   title=title or Path(source).stem, timings=result.timings,
                   read_options=read_options, started=started, reactions=reactions,
                   genes=genes_table)


def _failure_probability(data: QpcrData, priors: QpcrPriors, datatree: DataTree) -> np.ndarray:
    """Posterior mean P(failed reaction) of each missing Ct (NaN for detected ones)."""
    missing = (data.reactions.status != "detected").to_numpy()
    out = np.full(len(missing), np.nan)
    if not missing.any():
        return out
    posterior = datatree["posterior"].to_dataset()
    step = max(1, posterior.sizes["chain"] * posterior.sizes["draw"] // FAILURE_DRAWS)
    thinned = posterior.isel(draw=slice(None, None, step))
    model = build_model(data, priors, failure_probability=True)
    values = pm.compute_deterministics(thinned, var_names=["p_failed"], model=model,
                                       progressbar=False)["p_failed"]
    out[missing] = values.mean(("chain", "draw")).values[missing]
    return out


def estimate_efficiencies(dilutions: str | Path, *, priors: QpcrPriors | None = None,
                          settings: SamplerSettings | None = None) -> pd.DataFrame:
    """Efficiencies (fold per cycle) from a dilution series alone, median and 95% interval
    per gene (the Bayesian counterpart of MCMC.qpcr's ``PrimEff``)."""
    series = read_dilutions(dilutions)
    settings = settings if settings is not None else SamplerSettings(progress=False)
    settings = dataclasses.replace(settings, posterior_predictive=False)
    result = fit(build_efficiency_model(series, priors or QpcrPriors()), settings)
    eff = result.datatree["posterior"]["dilution_efficiency"]
    rows = [dict(gene=g, efficiency=float(eff.sel(dilution_gene=g).median()),
                 **dict(zip(["q2.5", "q97.5"], np.quantile(eff.sel(dilution_gene=g).values,
                                                           [0.025, 0.975]), strict=True)))
            for g in series.genes]
    table = pd.DataFrame(rows)
    table.attrs["diagnostics"] = result.diagnostics
    return table


def resolve_priors(priors: QpcrPriors | Mapping[str, float] | None) -> QpcrPriors:
    """Priors as given, or the defaults with overrides by name (unknown names refused)."""
    return fit_object.resolve_priors(QpcrPriors, priors, "qPCR")


def demo_input() -> tuple[Path, dict[str, Any]]:
    """The bundled example and the read options to fit it with (``fit_qpcr(path, **opts)``)."""
    example = resources.files("chemoshift.data.example") / EXAMPLE
    return Path(str(example)), dict(EXAMPLE_OPTIONS)


def describe(data: QpcrData, priors: QpcrPriors) -> dict:
    """What run.json records about the data."""
    from chemoshift.models.qpcr import model_terms

    return dict(layout=data.layout, n_reactions=len(data.reactions),
                n_samples=len(data.samples), genes=list(data.genes.gene),
                conditions=list(data.conditions), comparisons=[list(c) for c in data.comparisons],
                doses=data.doses, max_cycle=data.max_cycle, notes=list(data.notes),
                missing=data.reactions.groupby("gene").status.apply(
                    lambda s: int((s != "detected").sum())).to_dict(),
                model_terms=model_terms(data, priors))


def save_inputs(result: QpcrFit, run_dir: Path) -> None:
    files.write_csv(Path(run_dir) / "reactions.csv", result.reactions)
    files.write_csv(Path(run_dir) / "genes.csv", result.genes)


ASSAYS = {"qpcr": Assay(  # Ct model
    name="qpcr", read=read_qpcr, build=build_model, priors=QpcrPriors, fit=fit_qpcr,
    load=QpcrFit.from_run_dir, describe=describe, save_inputs=save_inputs,
    write_tables=qpcr_report.write_tables, write_report=qpcr_report.write_report)}
