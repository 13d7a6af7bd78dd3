"""One error type for everything a user's input file can get wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what was found, what was expected.

    ``row`` is the 1-based line number in the file as a spreadsheet shows it (the
    header is line 1), or None for a problem of the whole file or a whole column. In a
    table without lines (a Parquet file), ``row_kind`` is ``"row"`` and ``row`` is the
    1-based row number in that file, shown as ``row N``.

    ``option`` names the read option (the reader's keyword, e.g. ``"controls"``) whose
    value caused the problem, when one did: a study file places such a problem on that
    key's line (``assays.NAME.controls``) instead of in the data file.
    """

    file: str
    row: int | None
    column: str | None
    found: str
    expected: str
    row_kind: str = "line"
    option: str | None = None

    def __str__(self) -> str:
        row = self.row if self.row is None or self.row_kind == "line" else (
            f"{self.row_kind} {self.row}")
        place = ":".join(str(p) for p in (self.file, row, self.column) if p is not None)
        return f"{place}: {self.found}; expected {self.expected}"


class InputError(ValueError):
    """Raised with every problem of an input at once, so a user fixes them in one pass."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"... and {len(self.problems) - 50} more problems")
        super().__init__(f"{len(self.problems)} problem(s) in the input:\n" + "\n".join(lines))
