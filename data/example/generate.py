"""Regenerate the bundled example screen and its true parameters.

    python -m chemoshift.data.example.generate

The example mirrors the study: Huh7 and HepG2 cells; 5-FU, paclitaxel (PTX) and
doxorubicin (DOX) at 8 half-log concentrations around each drug's IC50 plus vehicle,
in triplicate wells; four transfection arms (si-NC, si-IGF1R, miR-NC, miR-379); three
independent experiments (transfections), each with one 96-well plate per cell line x
arm holding three medium-only blank wells. As real plates: curves move between
experiments (0.1 log10 for every arm of a cell line x drug together, 0.1 for each curve
on its own), HepG2 reads twice as bright as Huh7, noise grows with the reading (6% CV
plus reader noise), plate-to-plate variation of the untreated reading and about 1% gross
outlier wells. si-IGF1R and miR-379 lower the IC50 by 0.35 and 0.45 log10 units on
average (2.2- and 2.8-fold). Seed 379.
"""

from __future__ import annotations

import json
from pathlib import Path

from chemoshift.data.simulate_dose_response import ScreenDesign, simulate_screen

SEED = 379
HERE = Path(__file__).parent


def main() -> None:
    design = ScreenDesign(experiments=3, cell_line_brightness=(1.0, 2.0))
    wells, truth = simulate_screen(design, seed=SEED)
    wells.to_csv(HERE / "dose_response.csv", index=False)
    truth["seed"] = SEED
    truth["design"] = {k: v for k, v in design.__dict__.items()}
    (HERE / "dose_response_truth.json").write_text(json.dumps(truth, indent=2) + "\n")


if __name__ == "__main__":
    main()
