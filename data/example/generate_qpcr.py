"""Regenerate the bundled qPCR example and its truth.

    python -m chemoshift.data.example.generate_qpcr

Mirrors the study's qRT-PCR: miR-379 (normalised to RNU48) and IGF1R mRNA (normalised
to GAPDH) in HCC cells after miR-NC, miR-379 mimic at 40 and 80 nM (the ``dose_nM``
column: 0 / 40 / 80), si-NC and si-IGF1R; three biological replicates x technical
triplicates. The mimic raises miR-379 32- and 64-fold and lowers IGF1R 1.5- and 2-fold;
si-IGF1R lowers IGF1R 2.8-fold; the reference genes do not move. One miR-379 well of a
miR-NC sample reads ``Undetermined`` and one GAPDH well of a si-IGF1R sample failed
(empty cell) beside its replicates at ~19 cycles. Seed 379. Truth: qpcr_truth.json
(``log2_fold[gene][condition]`` against the condition's control, and the folds).
"""

from __future__ import annotations

import json
from pathlib import Path

from chemoshift.data.simulate_qpcr import QpcrDesign, simulate_qpcr

SEED = 379
HERE = Path(__file__).parent
CONTROLS = {"miR-379 40nM": "miR-NC", "miR-379 80nM": "miR-NC", "si-IGF1R": "si-NC"}
DESIGN = QpcrDesign(
    conditions=("miR-NC", "miR-379 40nM", "miR-379 80nM", "si-NC", "si-IGF1R"),
    doses={"miR-NC": 0.0, "miR-379 40nM": 40.0, "miR-379 80nM": 80.0},
    genes={"miR-379": ("target", "RNU48", 33.0), "RNU48": ("reference", "RNU48", 24.0),
           "IGF1R": ("target", "GAPDH", 27.0), "GAPDH": ("reference", "GAPDH", 19.0)},
    effects={"miR-379": {"miR-379 40nM": 5.0, "miR-379 80nM": 6.0},
             "IGF1R": {"miR-379 40nM": -0.585, "miR-379 80nM": -1.0, "si-IGF1R": -1.5},
             "RNU48": {}, "GAPDH": {}},
    outlier_rate=0.0, failure_rate=0.0)


def main() -> None:
    frame, truth = simulate_qpcr(DESIGN, seed=SEED)
    frame = frame.rename(columns={"dose": "dose_nM"})
    undetermined = frame.index[(frame.gene == "miR-379") & (frame["sample"] == "miR-NC-2")][1]
    failed = frame.index[(frame.gene == "GAPDH") & (frame["sample"] == "si-IGF1R-1")][2]
    frame.loc[undetermined, "ct"] = "Undetermined"
    frame.loc[failed, "ct"] = ""
    frame.to_csv(HERE / "qpcr.csv", index=False)
    effect = truth["log2_effect"]
    log2_fold = {g: {c: effect[g][c] - effect[g][k] for c, k in CONTROLS.items()}
                 for g in effect}
    record = dict(seed=SEED, controls=CONTROLS, log2_fold=log2_fold,
                  fold={g: {c: 2.0 ** v for c, v in f.items()} for g, f in log2_fold.items()},
                  undetermined_line=int(undetermined) + 2, failed_line=int(failed) + 2,
                  references={"miR-379": "RNU48", "IGF1R": "GAPDH"})
    (HERE / "qpcr_truth.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
