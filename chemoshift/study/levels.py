"""Check a study against its assay files: each file reads as configured, and the levels
its contrasts and claims name (treatments, cell lines, genes, constructs, ...) are held.

Reading is cheap (no model, no sampler), so a study with a typo in a claim is refused
before any fit starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chemoshift.data.errors import InputError, Problem
from chemoshift.reports.study.claims import CLAIM_ASSAY
from chemoshift.study.spec import FIT_EXTRAS

if TYPE_CHECKING:
    from chemoshift.study.spec import Locator, Study

LEVEL_KEYS = {  # claim key -> the column of the assay's validated table holding its levels
    "treatment": "treatment", "cell_line": "cell_line", "drug": "drug", "gene": "gene",
    "condition": "condition", "construct": "construct", "dose": "dose_label",
}
POOLED = {"all"}  # the pooled level of dose-response shifts
DERIVED_LEVELS = {"construct": {"interaction"}}


def check_study_levels(study: Study, where: Locator, problems: list[Problem]) -> None:
    """Read every assay file; refuse read errors and levels the files do not hold."""
    from chemoshift.registry import ASSAYS

    tables = {}
    for name, spec in study.assays.items():
        options = {k: v for k, v in spec.read_options.items()
                   if k not in FIT_EXTRAS.get(name, {})}
        try:
            data = ASSAYS[name].read(spec.file, **options)
        except InputError as error:
            problems.extend(where.read_problems(name, study.relative(spec.file),
                                                error.problems))
            continue
        except (TypeError, ValueError) as error:
            problems.append(where.problem(f"assays.{name}", str(error),
                                          "read options the assay takes (docs/study.md)"))
            continue
        tables[name] = level_table(data)
    for index, claim in enumerate(study.claims):
        assay = CLAIM_ASSAY[claim["kind"]]
        table = tables.get(assay)
        if table is None:
            continue
        for key, column in LEVEL_KEYS.items():
            if key not in claim or column not in table:
                continue
            held = set(table[column]) | POOLED | DERIVED_LEVELS.get(key, set())
            value = claim[key]
            if str(value) not in held:
                problems.append(where.problem(
                    f"claims[{index + 1}].{key}", repr(value),
                    f"a {key} of {study.relative(study.assays[assay].file)}: "
                    f"{', '.join(sorted(map(str, held - POOLED)))}", index=index))
        for treatment in claim.get("treatments", []):
            if "treatment" in table and treatment not in set(table["treatment"]):
                problems.append(where.problem(
                    f"claims[{index + 1}].treatments", repr(treatment),
                    f"a treatment of {study.relative(study.assays[assay].file)}",
                    index=index))


def level_table(data) -> dict[str, set[str]]:
    """The levels of a validated data object's main table, by column name."""
    frames = [getattr(data, name) for name in ("wells", "reactions", "lanes", "samples")
              if hasattr(data, name)]
    levels: dict[str, set[str]] = {}
    for frame in frames:
        for column in LEVEL_KEYS.values():
            if hasattr(frame, "columns") and column in frame.columns:
                levels.setdefault(column, set()).update(map(str, frame[column].dropna()))
    return levels
