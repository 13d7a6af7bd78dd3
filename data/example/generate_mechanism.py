"""Regenerate the bundled luciferase, Western blot and apoptosis examples and their truth.

    python -m chemoshift.data.example.generate_mechanism

Each mirrors the study: Huh7 and HepG2 cells, three independent experiments, miR-379
mimic vs miR-NC (simulators in :mod:`chemoshift.data.simulate_mechanism`, default designs).

- ``luciferase.csv``: pmirGLO IGF1R 3'UTR wild type (WT) and seed mutant (MUT), three wells
  per construct x treatment x experiment; miR-379 leaves 55% (Huh7) and 62% (HepG2) of
  the WT signal and 95% of the MUT's; experiments move every ratio by ~25%, each group by
  ~8%; well noise 15% with ~2% outlier wells.
- ``western.csv``: IGF1R / β-actin densitometry, one blot per experiment and cell line,
  one lane per arm: miR-NC (80 nM) and miR-379 at 40 and 80 nM, leaving 70% and 45% of
  IGF1R; blots move every lane by ~30%.
- ``apoptosis.csv``: PI-positive cells of 20,000 acquired, miR-379 / miR-NC x DOX 0.5 uM /
  vehicle; fractions 5, 7, 15 and 27% (moved a little per cell line); beta-binomial
  sample variation (precision 400) and experiments moving the odds by ~20%.

The truth files hold the true log ratios (luciferase, Western) and the true fractions,
log odds ratios and percentage points (apoptosis), with the seed and the design.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from chemoshift.data.simulate_mechanism import (
    ApoptosisDesign,
    LuciferaseDesign,
    WesternDesign,
    simulate_apoptosis,
    simulate_luciferase,
    simulate_western,
)

SEED = 379
HERE = Path(__file__).parent
SIMULATORS = {"luciferase": (simulate_luciferase, LuciferaseDesign()),
              "western": (simulate_western, WesternDesign()),
              "apoptosis": (simulate_apoptosis, ApoptosisDesign())}


def main() -> None:
    for name, (simulate, design) in SIMULATORS.items():
        table, truth = simulate(design, seed=SEED)
        table.to_csv(HERE / f"{name}.csv", index=False)
        truth["seed"] = SEED
        truth["design"] = {k: (str(v) if isinstance(v, dict) else v)
                           for k, v in dataclasses.asdict(design).items()}
        (HERE / f"{name}_truth.json").write_text(json.dumps(truth, indent=2) + "\n",
                                                 encoding="utf-8")


if __name__ == "__main__":
    main()
