"""Read a study file: parse and validate it (:mod:`.spec`), then check the levels its
contrasts and claims name against the assay files (:mod:`.levels`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from chemoshift.data.errors import InputError, Problem
from chemoshift.study.levels import check_study_levels
from chemoshift.study.spec import Locator, Study, parse_study


def load_study(path: str | Path, *, check_levels: bool = True,
               allow_outside_paths: bool = False) -> Study:
    """Read and validate a study file; raise :class:`InputError` listing every problem.

    ``check_levels`` also reads each assay's file (cheap: no model, no sampler) to check
    its read options and that contrasts and claims name arms, genes and constructs the
    file holds. The files it names must lie inside the study file's folder unless
    ``allow_outside_paths`` (an absolute path, or one leaving by ``..``, is refused).
    """
    path = Path(path)
    where = Locator(path)
    if not path.is_file():
        raise InputError([Problem(str(path), None, None, "no such file",
                                  "a study file (TOML; see docs/study.md)")])
    if where.unreadable is not None:
        raise InputError([where.unreadable])
    try:
        raw = tomllib.loads(where.text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise InputError([Problem(str(path), int(line.group(1)) if line else None, None,
                                  f"not valid TOML ({error})", "a TOML study file")]) from error
    problems: list[Problem] = []
    study = parse_study(raw, path, where, problems, allow_outside_paths=allow_outside_paths)
    if check_levels:
        check_study_levels(study, where, problems)
    if problems:
        raise InputError(problems)
    return study
