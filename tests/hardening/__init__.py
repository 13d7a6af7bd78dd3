"""The hardening summary the test run prints (issue 24): what was tried against the package
(kinds of bad input, crashes, network faults, hostile labels) and whether it held.

A test records what it tried with :func:`record` (on its ``request``); the figures travel
with the test's report (``user_properties``, so pytest-xdist's workers hand them over), and
``tests/conftest.py``'s ``pytest_terminal_summary`` prints them with :func:`summary_lines`.
"""

from __future__ import annotations

from collections import defaultdict

KEY = "hardening"
GROUPS = ("bad input", "crashes", "network faults", "hostile labels")


def record(request, group: str, what: str, count: int = 1) -> None:
    """Say that the running test tried ``count`` of ``what`` (e.g. a kind of bad file)."""
    request.node.user_properties.append((KEY, (group, what, int(count))))


def summary_lines(reports) -> list[str]:
    """One line a group: the distinct things tried, how often, and the tests' outcomes."""
    tried: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for report in reports:
        groups = set()
        for key, value in getattr(report, "user_properties", ()):
            if key == KEY:
                group, what, count = value
                tried[group][what] += count
                groups.add(group)
        for group in groups:
            if report.when == "call" or report.outcome != "passed":
                outcomes[group][report.outcome] += 1
    lines = []
    for group in sorted(tried, key=lambda g: (GROUPS.index(g) if g in GROUPS else 99, g)):
        kinds = tried[group]
        said = ", ".join(f"{n} {state}" for state, n in sorted(outcomes[group].items()))
        lines.append(f"{group}: {len(kinds)} kinds, {sum(kinds.values())} tried; tests {said}")
    return lines
