"""qPCR benchmark: the bundled example end to end, and a 96-gene x 24-sample panel.

    python benchmarks/qpcr.py [--skip-panel]

Prints the figures and writes benchmarks/results/qpcr.json. Target: the panel (a
real-time PCR array: 96 genes, 24 samples in 4 conditions, one well each, 2 reference
genes, a few non-detects) fitted in under 60 s on 2 cores (build + compile + sampling).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from chemoshift.data.qpcr import validate_qpcr
from chemoshift.data.simulate_qpcr import QpcrDesign, simulate_qpcr
from chemoshift.inference import SamplerSettings, fit
from chemoshift.models.qpcr import build_model
from chemoshift.qpcr import demo_input, fit_qpcr

RESULTS = Path(__file__).parent / "results" / "qpcr.json"
PANEL_TARGET_SECONDS = 60.0


def example_row() -> dict:
    path, options = demo_input()
    truth = json.loads((path.parent / "qpcr_truth.json").read_text())
    start = time.perf_counter()
    result = fit_qpcr(path, **options, settings=SamplerSettings(progress=False))
    with tempfile.TemporaryDirectory() as folder:
        result.save(Path(folder) / "run")
    seconds = time.perf_counter() - start
    folds = result.folds()
    inside = [row["q2.5"] <= truth["fold"][row.gene][row.condition] <= row["q97.5"]
              for _, row in folds.iterrows()]
    return dict(name="bundled example end to end (fit + save + report)", seconds=seconds,
                timings=result.timings, verdict=result.diagnostics.verdict,
                truth_inside_95=f"{sum(inside)}/{len(inside)}")


def panel_row(seed: int = 1) -> dict:
    genes = {"REF1": ("reference", "REF1+REF2", 18.0), "REF2": ("reference", "REF1+REF2", 22.0)}
    rng = np.random.default_rng(seed)
    genes |= {f"G{i:02d}": ("target", "REF1+REF2", float(rng.uniform(22, 37)))
              for i in range(1, 95)}
    design = QpcrDesign(conditions=("C0", "C1", "C2", "C3"), genes=genes, n_biological=6,
                        n_technical=1, random_effect_sd=0.7, failure_rate=0.005)
    frame, truth = simulate_qpcr(design, seed=seed)
    start = time.perf_counter()
    data = validate_qpcr(frame, "panel", references="REF1,REF2")
    result = fit(build_model(data), SamplerSettings(progress=False, posterior_predictive=False,
                                                    target_accept=0.9))
    seconds = time.perf_counter() - start
    fold = result.datatree["posterior"]["log2_fold"]
    errors, inside, shared = [], [], {}
    for j, (condition, _) in enumerate(data.comparisons):
        mine = []
        for gene in data.genes.gene:
            draws = fold.sel(gene=gene).values[..., j].ravel()
            true = truth["log2_fold"][gene][condition]
            mine.append(np.median(draws) - true)
            low, high = np.quantile(draws, [0.05, 0.95])
            inside.append(low <= true <= high)
        errors.extend(mine)
        shared[condition] = float(np.mean(mine))  # the loading's error, common to all genes
    return dict(name="96-gene x 24-sample panel (build + compile + sampling)", seconds=seconds,
                target_seconds=PANEL_TARGET_SECONDS, passed=seconds < PANEL_TARGET_SECONDS,
                reactions=len(data.reactions), timings=result.timings,
                verdict=result.diagnostics.verdict,
                rmse_log2_fold=float(np.sqrt(np.mean(np.square(errors)))),
                mean_error_by_comparison=shared,
                coverage_90=float(np.mean(inside)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-panel", action="store_true")
    args = parser.parse_args()
    rows = [example_row()]
    if not args.skip_panel:
        rows.append(panel_row())
    for row in rows:
        print(f"{row['name']}: {row['seconds']:.0f} s ({row['verdict']})")
        for key in ("timings", "truth_inside_95", "rmse_log2_fold", "mean_error_by_comparison",
                    "coverage_90", "passed"):
            if key in row:
                print(f"  {key}: {row[key]}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(dict(rows=rows, measured=time.strftime("%Y-%m-%d %H:%M")),
                                  indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
