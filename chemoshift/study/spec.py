"""A study file (TOML): what ``chemoshift study`` fits, with which contrasts, and which
claims it evaluates. Read and validated here, before anything is fitted or written.

The schema is documented in docs/study.md; in short::

    [study]          title, seed, margin, jobs
    [sampler]        draws, tune, chains, target_accept, sampler   (all optional)
    [assays.NAME]    file = "...", then NAME's read options (controls, columns, ...),
                     priors = {...}, margin
    [network]        file (omit to fetch from STRING), score, hubs, measure, top
    [enrichment]     gmt (default: the bundled KEGG_2016 gene sets)
    [chain]          cell_line, drug, treatments = [A, B], agreement_factor
    [verdict]        strong, weak, margin
    [[claims]]       claim = "...", kind = "...", and the kind's keys

Every problem is reported at once as an :class:`InputError` naming the study file, the
line and the key (``study.toml:14:assays.qpcr.controls: ...; expected ...``). Paths
resolve against the study file's folder and must stay inside it (an absolute path, or one
leaving it by ``..`` or a symbolic link, is refused) unless the caller allows outside paths
(``--allow-outside-paths``, ``allow_outside_paths=True``): a study file from elsewhere
cannot make chemoshift read, and copy into a report, files beside it. Levels the claims
and contrasts name (treatments, genes, constructs, ...) are checked against the assay
files themselves.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chemoshift.assay import DEFAULT_MARGIN
from chemoshift.data.errors import Problem
from chemoshift.registry import ASSAYS
from chemoshift.reports.study.claims import (
    CLAIM_ASSAY,
    CLAIM_KINDS,
    VerdictThresholds,
    claim_problems,
)

STUDY_SECTIONS = ("study", "sampler", "assays", "network", "enrichment", "chain", "verdict",
                  "claims")
STUDY_KEYS = {"title": str, "seed": int, "margin": float, "jobs": int}
SAMPLER_KEYS = {"draws": int, "tune": int, "chains": int, "target_accept": float,
                "sampler": str, "max_batches": int}
NETWORK_KEYS = {"file": str, "score": float, "hubs": int, "measure": str, "top": int,
                "evidence": str}
ENRICHMENT_KEYS = {"gmt": str}
CHAIN_KEYS = {"cell_line": str, "drug": str, "treatments": list, "agreement_factor": float}
VERDICT_KEYS = {"strong": float, "weak": float, "margin": float}
ASSAY_COMMON = {"file": str, "priors": dict, "margin": float, "title": str}
FIT_EXTRAS = {"expression": {"top": int}}  # options a fit takes beyond its reader's
PATH_OPTIONS = ("samples", "annotation", "dilutions")  # read options naming a file


@dataclass(frozen=True)
class AssaySpec:
    """One assay of a study: its input file, read options (paths resolved), priors, margin."""

    name: str
    file: Path
    read_options: dict[str, Any]
    priors: dict[str, float]
    margin: float
    title: str

    @property
    def files(self) -> list[Path]:
        """Every file the fit reads: the input and any file its options name."""
        named = [Path(self.read_options[k]) for k in PATH_OPTIONS if self.read_options.get(k)]
        return [self.file, *named]


@dataclass(frozen=True)
class NetworkSpec:
    """The STRING network step of the expression assay (``file`` None: fetch, cached)."""

    file: Path | None = None
    score: float = 0.7
    hubs: int = 20
    measure: str = "mcc"
    top: int | None = None
    evidence: str = "combined"


@dataclass(frozen=True)
class Study:
    """A validated study file."""

    path: Path
    title: str
    seed: int
    margin: float
    jobs: int | None
    sampler: dict[str, Any]
    assays: dict[str, AssaySpec]
    network: NetworkSpec | None
    enrichment_gmt: Path | None
    chain: dict[str, Any]
    verdict: VerdictThresholds
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def relative(self, path: Path) -> str:
        """``path`` as the study file's folder sees it (for records and tables)."""
        try:
            return Path(path).resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return str(path)


def bundled_study() -> Path:
    """The bundled example study (``chemoshift demo`` runs it)."""
    from importlib import resources

    return Path(str(resources.files("chemoshift.data.example") / "study.toml"))


class Locator:
    """Line numbers of tables and keys in the study file's text (best effort).

    ``text`` is the file decoded as UTF-8 (a byte-order mark, as Windows Notepad writes,
    dropped); ``unreadable`` the problem of a file that is not UTF-8 text (UTF-16, a
    Windows code page, binary), else None.
    """

    def __init__(self, path: Path):
        self.path = path
        self.text, self.unreadable = "", None
        try:
            raw = path.read_bytes()
        except OSError:
            raw = b""
        self.unreadable = _not_utf8(raw, str(path))
        if self.unreadable is None:
            self.text = raw.decode("utf-8-sig")
        self.lines = self.text.splitlines()

    def line(self, table: str, key: str | None = None, index: int | None = None) -> int | None:
        """The line of ``key`` in ``[table]`` (or of the table header), 1-based."""
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        starts = [i for i, text in enumerate(self.lines) if header.match(text)]
        if not starts:
            return None
        start = starts[index] if index is not None and index < len(starts) else starts[0]
        if key is None:
            return start + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        own = self.line(f"{table}.{key}") if index is None else None  # [table.key] of its own
        return own or start + 1

    def read_problems(self, assay: str, file: str, problems: list[Problem]) -> list[Problem]:
        """The problems of reading ``[assays.ASSAY]``'s file (``file``, as the study names
        it), in the study file's words: one a read option caused (``controls``, ``columns``,
        ...) placed on that key's line; the file's own after a line naming the file on
        ``file =``'s line. Command-line options the readers name read as study keys."""
        table = f"assays.{assay}"
        placed, own = [], []
        for problem in problems:
            found, expected = study_words(problem.found), study_words(problem.expected)
            if problem.option:
                found = found.replace("the input", file).replace("the file", file)
                if problem.column and problem.column not in found:
                    found = f"{problem.column}: {found}"  # the data file's column
                placed.append(Problem(str(self.path), self.line(table, problem.option),
                                      f"{table}.{problem.option}", found, expected))
            else:
                own.append(dataclasses.replace(problem, found=found, expected=expected))
        if own:
            placed.append(Problem(str(self.path), self.line(table, "file"), f"{table}.file",
                                  f"{file} cannot be read as configured",
                                  "its problems below fixed"))
        return placed + own

    def problem(self, key: str, found: str, expected: str, *, index: int | None = None
                ) -> Problem:
        table, _, name = key.rpartition(".")
        if key.startswith("claims["):
            table, name = "claims", key.split("].", 1)[-1] if "]." in key else None
        line = self.line(table, name or None, index) if table else self.line(key, None)
        return Problem(str(self.path), line, key, found, expected)


def _not_utf8(raw: bytes, name: str) -> Problem | None:
    """The problem of a study file that is not UTF-8 text, naming what it is instead."""
    expected = "a TOML study file saved as UTF-8 text"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Problem(name, 1, None, "UTF-16 text (its first bytes are UTF-16's byte-order "
                       "mark: a 'Unicode' save)", expected)
    if b"\x00" in raw:
        return Problem(name, raw[:raw.index(b"\x00")].count(b"\n") + 1, None,
                       "a binary file (byte 0x00), not text", expected)
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Problem(name, raw[:error.start].count(b"\n") + 1, None,
                       f"byte 0x{raw[error.start]:02X}, not UTF-8 (a Windows code page: "
                       "µ written as 0xB5?)", expected)
    return None


# a command-line option the readers name, and its value: ``--control A=B``, ``--unit uM``
_OPTION = re.compile(r"--([a-z][a-z-]*)(?: ('[^']*'|\"[^\"]*\"|[^\s=;,()]+=[^\s;,()]+|"
                     r"[A-Z][A-Z_]*\b|\d[\w.]*))?")


def study_words(text: str) -> str:
    """``text`` with the command-line options it names as study-file keys:
    ``--control A=B`` -> ``controls = { "A" = "B" }``, ``--drug-control LEVEL`` ->
    ``drug_control = LEVEL``, ``--columns`` -> ``columns``."""
    from chemoshift.data.mechanism_files import OPTION_KEYS

    def key(match: re.Match) -> str:
        name = OPTION_KEYS.get(f"--{match.group(1)}", match.group(1).replace("-", "_"))
        value = match.group(2)
        if value is None:
            return name
        if "=" in value and value[0] not in "'\"":
            left, right = value.split("=", 1)
            return f'{name} = {{ "{left}" = "{right}" }}'
        return f"{name} = {value}"

    return _OPTION.sub(key, text)


def parse_study(raw: dict, path: Path, where: Locator, problems: list[Problem], *,
                allow_outside_paths: bool = False) -> Study:
    outside = allow_outside_paths
    for key in raw:
        if key not in STUDY_SECTIONS:
            problems.append(where.problem(key, "unknown section",
                                          f"one of {', '.join(STUDY_SECTIONS)}"))
    head = _table(raw, "study", STUDY_KEYS, where, problems)
    sampler = _table(raw, "sampler", SAMPLER_KEYS, where, problems)
    margin = float(head.get("margin", DEFAULT_MARGIN))
    if not margin > 1:
        problems.append(where.problem("study.margin", repr(margin),
                                      "a fold change above 1 (1.5: P(effect beyond 1.5-fold))"))
    for key in ("seed", "jobs"):
        if key in head and head[key] < (0 if key == "seed" else 1):
            problems.append(where.problem(f"study.{key}", repr(head[key]),
                                          "a non-negative seed" if key == "seed"
                                          else "at least 1 fit at a time"))
    assays_raw = raw.get("assays", {})
    if not isinstance(assays_raw, dict) or not assays_raw:
        problems.append(where.problem("assays", "no [assays.NAME] table",
                                      f"at least one of {', '.join(sorted(ASSAYS))}"))
        assays_raw = {}
    assays = {}
    for name, options in assays_raw.items():
        if name not in ASSAYS:
            problems.append(where.problem(f"assays.{name}", "unknown assay",
                                          f"one of {', '.join(sorted(ASSAYS))}"))
            continue
        spec = _assay(name, options, path.parent, margin, where, problems, outside)
        if spec is not None:
            assays[name] = spec
    network = _network(raw, path.parent, where, problems, "expression" in assays, outside)
    enrichment = _table(raw, "enrichment", ENRICHMENT_KEYS, where, problems)
    gmt = _existing(path.parent, enrichment["gmt"], "enrichment.gmt", where, problems,
                    outside) if "gmt" in enrichment else None
    chain = _table(raw, "chain", CHAIN_KEYS, where, problems)
    chain.setdefault("agreement_factor", 2.0)
    if not chain["agreement_factor"] > 1:
        problems.append(where.problem("chain.agreement_factor", repr(chain["agreement_factor"]),
                                      "a fold factor above 1"))
    verdict_raw = _table(raw, "verdict", VERDICT_KEYS, where, problems)
    verdict = VerdictThresholds(**verdict_raw)
    if not 0 < verdict.weak <= verdict.strong < 1 or not 0 < verdict.margin < 1:
        problems.append(where.problem("verdict", str(verdict_raw),
                                      "probabilities with 0 < weak <= strong < 1 and "
                                      "0 < margin < 1"))
    claims = _claims(raw.get("claims", []), set(assays), chain, where, problems)
    return Study(path=path, title=str(head.get("title", path.stem)), seed=int(head.get("seed", 1)),
                 margin=margin, jobs=head.get("jobs"), sampler=sampler, assays=assays,
                 network=network, enrichment_gmt=gmt, chain=chain, verdict=verdict,
                 claims=claims)


def _table(raw: dict, name: str, schema: dict[str, Any], where: Locator,
           problems: list[Problem]) -> dict[str, Any]:
    """The keys of ``[name]``, type-checked against ``schema``; unknown keys refused."""
    table = raw.get(name, {})
    if not isinstance(table, dict):
        problems.append(where.problem(name, f"{type(table).__name__}", "a [table]"))
        return {}
    out = {}
    for key, value in table.items():
        if key not in schema:
            problems.append(where.problem(f"{name}.{key}", "unknown key",
                                          f"one of {', '.join(schema)}"))
            continue
        checked = _typed(value, schema[key])
        if checked is None:
            problems.append(where.problem(f"{name}.{key}", repr(value),
                                          f"a {_type_name(schema[key])}"))
            continue
        out[key] = checked
    return out


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` as ``kind`` (ints accepted for floats), or None when it is not one."""
    if isinstance(kind, tuple):
        for one in kind:
            checked = _typed(value, one)
            if checked is not None:
                return checked
        return None
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, list, dict) and isinstance(value, kind):
        return value
    return None


def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_type_name(one) for one in kind)
    return {str: "string", int: "whole number", float: "number", list: "list [..]",
            dict: "table {..}", bool: "true / false"}[kind]


def _existing(folder: Path, name: str, key: str, where: Locator, problems: list[Problem],
              outside: bool = False) -> Path | None:
    path = Path(name) if Path(name).is_absolute() else folder / name
    escapes = Path(name).is_absolute() or not path.resolve().is_relative_to(folder.resolve())
    if escapes and not outside:
        problems.append(where.problem(key, f"{name!r} lies outside the study file's folder "
                                           f"({folder})",
                                      "a path inside that folder, or --allow-outside-paths "
                                      "(Python: allow_outside_paths=True) to read it"))
        return None
    if not path.is_file():
        problems.append(where.problem(key, f"{name!r}: no such file (looked in {folder})",
                                      "a file, relative to the study file's folder"))
        return None
    return path


def _assay(name: str, options: Any, folder: Path, margin: float, where: Locator,
           problems: list[Problem], outside: bool = False) -> AssaySpec | None:
    key = f"assays.{name}"
    if not isinstance(options, dict):
        problems.append(where.problem(key, repr(options), "a [table] with file = ..."))
        return None
    known = read_option_types(ASSAYS[name].read) | FIT_EXTRAS.get(name, {})
    schema = ASSAY_COMMON | known
    checked = _table({key: options}, key, schema, where, problems)
    if "file" not in options:
        problems.append(where.problem(key, "no file = ...", "the assay's input file"))
        return None
    file = _existing(folder, options["file"], f"{key}.file", where, problems, outside) \
        if "file" in checked else None
    read_options = {k: v for k, v in checked.items() if k in known}
    for option in PATH_OPTIONS:
        if option in read_options:
            resolved = _existing(folder, read_options[option], f"{key}.{option}", where,
                                 problems, outside)
            read_options[option] = str(resolved) if resolved else read_options[option]
    priors = checked.get("priors", {})
    bad = {k: v for k, v in priors.items() if _typed(v, float) is None}
    if bad:
        problems.append(where.problem(f"{key}.priors", repr(bad), "numbers (prior scales)"))
    fields = getattr(ASSAYS[name].priors, "__dataclass_fields__", {})
    unknown = sorted(set(priors) - set(fields))
    if unknown:
        problems.append(where.problem(f"{key}.priors", f"unknown prior(s) {unknown}",
                                      f"some of {', '.join(fields)}"))
    own_margin = checked.get("margin", margin)
    if not own_margin > 1:
        problems.append(where.problem(f"{key}.margin", repr(own_margin),
                                      "a fold change above 1"))
    if file is None:
        return None
    return AssaySpec(name=name, file=file, read_options=read_options,
                     priors={k: float(v) for k, v in priors.items()}, margin=own_margin,
                     title=checked.get("title", name))


def read_option_types(read) -> dict[str, tuple[type, ...]]:
    """The keyword options of an assay's reader, with the TOML types each takes
    (from its annotation: ``str | Sequence[str] | Mapping[str, str]`` takes all three)."""
    names = {"str": str, "Path": str, "float": float, "int": int, "bool": bool,
             "Sequence": list, "list": list, "tuple": list, "Mapping": dict, "dict": dict}
    types: dict[str, tuple[type, ...]] = {}
    for parameter in inspect.signature(read).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        text = str(parameter.annotation)
        while "[" in text:  # keep the top-level union only
            text = re.sub(r"\[[^\[\]]*\]", "", text)
        kinds = tuple(dict.fromkeys(names[t.strip()] for t in text.split("|")
                                    if t.strip() in names))
        types[parameter.name] = kinds or (str,)
    return types


def _network(raw: dict, folder: Path, where: Locator, problems: list[Problem],
             has_expression: bool, outside: bool = False) -> NetworkSpec | None:
    if "network" not in raw:
        return NetworkSpec() if has_expression else None
    table = _table(raw, "network", NETWORK_KEYS, where, problems)
    if not has_expression:
        problems.append(where.problem("network", "a network step without an expression assay",
                                      "an [assays.expression] table to rank its genes"))
    file = _existing(folder, table.pop("file"), "network.file", where, problems, outside) \
        if "file" in table else None
    if "score" in table and not 0 <= table["score"] <= 1:
        problems.append(where.problem("network.score", repr(table["score"]),
                                      "a STRING combined score between 0 and 1 (0.7 = high)"))
    from chemoshift.reports.expression.network import MEASURES

    if table.get("measure", "mcc") not in MEASURES:
        problems.append(where.problem("network.measure", repr(table["measure"]),
                                      f"one of {', '.join(MEASURES)}"))
    return NetworkSpec(file=file, **table)


def _claims(raw: Any, assays: set[str], chain: dict[str, Any], where: Locator,
            problems: list[Problem]) -> list[dict[str, Any]]:
    """The ``[[claims]]``; a ``shift_agreement`` claim takes what it leaves out (treatments,
    cell line, drug, factor) from ``[chain]``."""
    defaults = dict(treatments=chain.get("treatments"), cell_line=chain.get("cell_line"),
                    drug=chain.get("drug"), factor=chain.get("agreement_factor"))
    if not isinstance(raw, list):
        problems.append(where.problem("claims", repr(raw), "[[claims]] tables"))
        return []
    claims = []
    for index, claim in enumerate(raw):
        key = f"claims[{index + 1}]"
        if not isinstance(claim, dict):
            problems.append(where.problem(key, repr(claim), "a [[claims]] table", index=index))
            continue
        kind = claim.get("kind")
        if kind == "shift_agreement":
            claim = {**{k: v for k, v in defaults.items() if v is not None}, **claim}
        if kind not in CLAIM_KINDS:
            problems.append(where.problem(f"{key}.kind", repr(kind),
                                          f"one of {', '.join(CLAIM_KINDS)}", index=index))
            continue
        required, optional = CLAIM_KINDS[kind]
        allowed = {"claim", "kind", *required, *optional}
        for name in ("claim", *required):
            if name not in claim:
                problems.append(where.problem(f"{key}.{name}", "missing",
                                              f"the {kind} claim's {name}", index=index))
        for name in claim:
            if name not in allowed:
                problems.append(where.problem(f"{key}.{name}", "unknown key",
                                              f"one of {', '.join(sorted(allowed))}",
                                              index=index))
        if CLAIM_ASSAY[kind] not in assays:
            problems.append(where.problem(f"{key}.kind", f"{kind!r} rests on the "
                                          f"{CLAIM_ASSAY[kind]} assay, which the study does "
                                          "not fit", f"an [assays.{CLAIM_ASSAY[kind]}] table",
                                          index=index))
        for message in claim_problems(claim):
            if " key " not in message:  # the keys are named above, with their lines
                problems.append(where.problem(key, message, f"a valid {kind} claim",
                                              index=index))
        claims.append(dict(claim))
    return claims
