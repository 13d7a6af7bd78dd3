"""Every reachable drc data set, fitted at the defaults on two seeds, against drc's numbers.

Run from the repository root (prints a table; writes JSON atomically)::

    python benchmarks/reference_fits.py [--seeds 1,2] [--out benchmarks/results/reference_fits.json]

Baseline: **drc** (R), the field's per-data-set 4PL fits. The data are ryegrass and
G.aparine from ../shared/reference/doseresponse, the Meyer lab's H1299 CellTiter-Glo export
from ../shared/reference/real (no published IC50: convergence only) and the twelve
continuous drc data sets in tests/data/drc (SOURCES.md there says where each comes from and
which drc fit the published number belongs to). For each fit: the verdict (no divergences,
R-hat <= 1.01, ESS >= 400), the posterior median and 95% interval of the quantity drc
reports, and whether drc's estimate lies inside our interval. drc's model is not always a
4PL (LN.3, Box-Cox, EXD.2, BC.4 hormesis): such rows compare like with unlike and say so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.dose_response import validate_wells
from chemoshift.data.run_dir import write_text
from chemoshift.data.units import unit_family
from chemoshift.inference.fit import SamplerSettings, fit
from chemoshift.models.dose_response import build_model
from chemoshift.reports.dose_response.tables import draws

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference" / "doseresponse"
REAL = ROOT.parent / "shared" / "reference" / "real"
DRC = ROOT / "tests" / "data" / "drc"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "reference_fits.json"


@dataclass(frozen=True)
class Reference:
    """One data set: how to read it, which quantity drc reports, and drc's value(s)."""

    name: str
    path: Path
    columns: dict[str, str]
    unit: str
    drc: dict[str, float]  # curve or comparison label -> drc's ED50 (or ratio)
    quantity: str = "log10_ic50"  # or log10_shift (a potency ratio)
    controls: dict[str, str] = field(default_factory=dict)
    drc_model: str = "LL.4"
    prepare: str = ""  # a note on what was done to the file before reading


def references() -> list[Reference]:
    return [
        Reference("ryegrass", SHARED / "ryegrass.csv", {"concentration": "conc",
                                                       "response": "rootl"}, "mM",
                  {"-": 3.058}),
        Reference("G.aparine", SHARED / "G.aparine.csv",
                  {"concentration": "dose", "response": "drymatter"}, "g/ha",
                  {"1 vs 2": 0.544}, "log10_shift", {"1": "2"}, "LL.4, common top"),
        Reference("S.alba", DRC / "S.alba.csv",
                  {"concentration": "Dose", "treatment": "Herbicide", "response": "DryMatter"},
                  "g/ha", {"Glyphosate vs Bentazone": 66.890545 / 28.632355}, "log10_shift",
                  {"Glyphosate": "Bentazone"}, "LL.4, common top and bottom"),
        Reference("spinach", DRC / "spinach.csv",
                  {"concentration": "DOSE", "drug": "HERBICIDE", "experiment": "CURVE",
                   "response": "SLOPE"}, "uM", {"bentazon": 1.599804, "diuron": 0.203161},
                  drc_model="LL.4 per herbicide, curves pooled"),
        Reference("secalonic", DRC / "secalonic.csv", {"concentration": "dose",
                                                       "response": "rootl"}, "mM",
                  {"-": 0.0803547}),
        Reference("algae", DRC / "algae.csv", {"concentration": "conc", "response": "vol"},
                  "mg/L", {"-": 6.04062}, drc_model="LL.3 (bottom 0)"),
        Reference("M.bahia", DRC / "M.bahia.csv", {"concentration": "conc",
                                                   "response": "dryweight"}, "%",
                  {"-": 1.72756}, drc_model="LN.4 + Box-Cox"),
        Reference("P.promelas", DRC / "P.promelas.csv", {"concentration": "conc",
                                                         "response": "dryweight"}, "ug/L",
                  {"-": 1145.654281}, drc_model="LN.3 (bottom 0)"),
        Reference("S.capricornutum", DRC / "S.capricornutum.csv",
                  {"concentration": "conc", "response": "count"}, "ug/L", {"-": 12.42816},
                  drc_model="LN.3 + Box-Cox"),
        Reference("O.mykiss", DRC / "O.mykiss.csv", {"concentration": "conc",
                                                     "response": "weight"}, "mg/L",
                  {}, drc_model="EXD.2 (no ED50 to compare)",
                  prepare="9 empty weights dropped (drc: na.omit)"),
        Reference("lettuce", DRC / "lettuce.csv", {"concentration": "conc",
                                                   "response": "weight"}, "mg/L", {},
                  drc_model="BC.4 hormesis (no ED50 to compare)"),
        Reference("nasturtium", DRC / "nasturtium.csv", {"concentration": "conc",
                                                         "response": "weight"}, "g/ha", {},
                  drc_model="LL.3 (lack-of-fit test only)"),
        Reference("lepidium", DRC / "lepidium.csv", {"concentration": "conc",
                                                     "response": "weight"}, "g/ha", {},
                  drc_model="LL.4 (lack-of-fit test only)"),
        Reference("acidiq", DRC / "acidiq.csv", {"concentration": "dose", "drug": "pct",
                                                 "response": "rgr"}, "uM",
                  {"100": 308.44, "83": 376.60, "67": 487.46, "50": 516.69, "33": 522.88,
                   "17": 378.91, "0": 347.66}, drc_model="LL.4, common top and bottom",
                  prepare="controls (pct 999) read as shared vehicle wells of every mixture"),
        Reference("H1299 CellTiter", REAL / "viability_h1299_dox_nvb_meyer"
                  / "2017.07.10-H1299-celltiter.csv",
                  {"drug": "Drug", "concentration": "Conc (nM)", "response": "CellTiter"},
                  "nM", {}, drc_model="no published IC50 (the paper fits growth/death "
                  "models); raw luminescence as the lab saved it"),
    ]


def read(reference: Reference):
    """Read a reference file as a user would (after the stated preparation)."""
    frame = pd.read_csv(reference.path, dtype=str, keep_default_na=False)
    frame = frame.rename(columns={theirs: ours for ours, theirs in reference.columns.items()})
    frame = frame[frame.response.str.strip() != ""]  # O.mykiss: drc's na.omit
    if reference.name == "acidiq":
        frame.loc[frame.drug == "999", "drug"] = ""  # the common control of every mixture
    frame["unit"] = reference.unit
    return validate_wells(frame, reference.name, controls=reference.controls or None,
                          response_kind="other")


def fit_reference(reference: Reference, seed: int) -> dict:
    data = read(reference)
    model = build_model(data)
    start = time.perf_counter()
    result = fit(model, SamplerSettings(seed=seed, progress=False, posterior_predictive=False))
    seconds = time.perf_counter() - start
    dim = "curve" if reference.quantity == "log10_ic50" else "comparison"
    labels = list(model.coords[dim])
    samples = draws(result.datatree, reference.quantity)
    rows = []
    # drc's ED50s are in the file's unit; ours in the internal one (mM -> uM)
    factor = unit_family(reference.unit)[1] if reference.quantity == "log10_ic50" else 1.0
    for label, drc_value in ((k, v * factor) for k, v in reference.drc.items()):
        match = [i for i, name in enumerate(labels) if label in name.split(" | ")
                 or name.endswith(label)]
        low, median, high = 10 ** np.quantile(samples[:, match[0]], [0.025, 0.5, 0.975])
        rows.append(dict(label=label, drc=drc_value, median=median, low=low, high=high,
                         drc_inside=bool(low <= drc_value <= high)))
    diagnostics = result.diagnostics
    return dict(data_set=reference.name, seed=seed, seconds=round(seconds, 1),
                passed=diagnostics.passed, divergences=diagnostics.divergences,
                max_rhat=round(diagnostics.max_rhat, 4),
                min_ess_bulk=round(diagnostics.min_ess_bulk), verdict=diagnostics.verdict,
                draws_per_chain=result.timings.get("draws_per_chain"),
                drc_model=reference.drc_model,
                prepare=reference.prepare, estimates=rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--only", default="", help="comma-separated data set names")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    chosen = [r for r in references() if not args.only or r.name in args.only.split(",")]
    results = []
    print(f"{'data set':16} {'seed':>4} {'s':>6} {'verdict':10} {'div':>3} {'R-hat':>6} "
          f"{'ESS':>5}  estimate vs drc")
    for reference in chosen:
        for seed in seeds:
            row = fit_reference(reference, seed)
            results.append(row)
            estimates = "; ".join(
                f"{e['label']}: {e['median']:.4g} ({e['low']:.4g}-{e['high']:.4g}) drc "
                f"{e['drc']:.4g} {'in' if e['drc_inside'] else 'OUT'}" for e in row["estimates"])
            print(f"{row['data_set']:16} {seed:>4} {row['seconds']:>6} "
                  f"{'converged' if row['passed'] else 'FAILED':10} {row['divergences']:>3} "
                  f"{row['max_rhat']:>6} {row['min_ess_bulk']:>5}  {estimates or row['drc_model']}",
                  flush=True)
    converged = sum(r["passed"] for r in results)
    inside = [e["drc_inside"] for r in results for e in r["estimates"]]
    print(f"\nconverged at the defaults: {converged} of {len(results)} fits; drc's estimate "
          f"inside our 95% interval: {sum(inside)} of {len(inside)}")
    write_text(args.out, json.dumps(dict(results=results), indent=2) + "\n")
    return 0 if converged == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
