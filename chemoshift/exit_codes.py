"""The exit codes of every ``chemoshift`` command (a contract with users' scripts), and
running a parsed command to its exit code.

0 success; 1 a study could not fit an assay at all; 2 bad input or a refusal, nothing
written (an existing run directory without ``--overwrite``, a run directory or study
folder another process is writing, a study file naming files outside its folder); 3 the
sampler did not converge (outputs written, and they say so at the top); 4 a web service
(STRING, KEGG, GEO) could not be reached and nothing was cached; 5 a sharded fit is
partial (a shard failed every retry: named in run.json and the report).
"""

from __future__ import annotations

import argparse
import sys

from chemoshift.data.errors import InputError

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_SERVICE = 0, 1, 2, 3, 4
EXIT_PARTIAL = 5  # a sharded fit: some shards failed every retry; the rest are complete


def refuse(message: str) -> int:
    """Say ``message`` on stderr (``chemoshift: message``); exit code 2."""
    print(f"chemoshift: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def exit_code(args: argparse.Namespace) -> int:
    """Run ``args.command(args)``; bad input is said on stderr and is exit code 2."""
    try:
        return args.command(args)
    except InputError as error:
        print(f"chemoshift: bad input, nothing written.\n{error}", file=sys.stderr)
        return EXIT_BAD_INPUT
