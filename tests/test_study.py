"""The study file and its runner: validation with messages naming the file, line and key;
reuse of unchanged fits keyed by inputs and settings; byte-identical tables for a seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.data.errors import InputError
from chemoshift.study import bundled_study, load_study
from chemoshift.study.run import KEY_FILE, fit_key, sampler_settings
from chemoshift.study.spec import read_option_types

EXAMPLE = bundled_study().parent
CHEAP = """
[study]
title = "two cheap assays"
seed = 5

[sampler]
tune = 300

[assays.western]
file = "western.csv"
controls = { "miR-379" = "miR-NC" }

[assays.luciferase]
file = "luciferase.csv"
controls = { "miR-379" = "miR-NC" }
construct_control = "IGF1R-3'UTR-MUT"

[[claims]]
claim = "miR-379 lowers IGF1R protein in Huh7"
kind = "western_fold"
cell_line = "Huh7"
condition = "miR-379"
dose = "80 nM"

[[claims]]
claim = "miR-379 represses the wild-type 3'UTR beyond the mutant in Huh7"
kind = "luciferase"
cell_line = "Huh7"
construct = "interaction"
"""


def _study(tmp_path: Path, text: str, files=("western.csv", "luciferase.csv")) -> Path:
    for name in files:
        shutil.copy(EXAMPLE / name, tmp_path / name)
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_study(path)
    return [str(p) for p in caught.value.problems]


def test_the_bundled_study_is_valid_and_mirrors_the_paper():
    study = load_study(bundled_study())
    assert set(study.assays) == {"dose-response", "qpcr", "western", "luciferase",
                                 "apoptosis", "expression"}
    kinds = {claim["kind"] for claim in study.claims}
    assert {"ic50_shift", "shift_agreement", "qpcr_fold", "western_fold", "luciferase",
            "apoptosis", "hubs", "pathways"} <= kinds
    assert study.network is not None and study.network.file.is_file()
    assert study.assays["qpcr"].read_options["dose"] == "dose_nM"


def test_unknown_keys_sections_and_kinds_are_named_with_their_line(tmp_path):
    text = CHEAP.replace('seed = 5', 'seed = 5\ncolour = "red"') + '\n[extras]\na = 1\n'
    text = text.replace('kind = "luciferase"', 'kind = "luciferace"')
    path = _study(tmp_path, text)
    problems = "\n".join(_problems(path))
    assert f"{path}:5:study.colour: unknown key" in problems
    assert "extras: unknown section" in problems
    assert "claims[2].kind: 'luciferace'; expected one of" in problems


def test_missing_files_and_wrong_types_are_refused(tmp_path):
    text = CHEAP.replace('file = "western.csv"', 'file = "blots.csv"').replace(
        "tune = 300", 'tune = "long"')
    assert 'tune = "long"' in text
    problems = "\n".join(_problems(_study(tmp_path, text)))
    assert "assays.western.file: 'blots.csv': no such file" in problems
    assert "sampler.tune: 'long'; expected a whole number" in problems


def test_contrasts_and_claims_naming_absent_arms_are_refused(tmp_path):
    text = CHEAP.replace('cell_line = "Huh7"\ncondition', 'cell_line = "Hep3B"\ncondition')
    problems = "\n".join(_problems(_study(tmp_path, text)))
    assert "claims[1].cell_line: 'Hep3B'; expected a cell_line of western.csv" in problems
    text = CHEAP.replace('[assays.western]\nfile = "western.csv"\ncontrols = { "miR-379" = '
                         '"miR-NC" }', '[assays.western]\nfile = "western.csv"\ncontrols = '
                         '{ "miR-999" = "miR-NC" }')
    problems = "\n".join(_problems(_study(tmp_path, text)))
    assert "assays.western" in problems and "miR-999" in problems


def test_a_claim_on_an_assay_the_study_does_not_fit_is_refused(tmp_path):
    text = CHEAP + '\n[[claims]]\nclaim = "x"\nkind = "qpcr_fold"\ngene = "IGF1R"\n' \
                   'condition = "si-IGF1R"\n'
    problems = "\n".join(_problems(_study(tmp_path, text)))
    assert "claims[3].kind" in problems and "[assays.qpcr]" in problems


def test_bad_study_exits_2_and_writes_nothing(tmp_path, capsys):
    path = _study(tmp_path, CHEAP.replace("seed = 5", "seed = -1"))
    out = tmp_path / "out"
    assert main(["study", str(path), "--out", str(out)]) == 2
    assert not out.exists()
    assert "study.seed" in capsys.readouterr().err


def test_reader_options_take_the_toml_types_their_annotations_allow():
    from chemoshift.registry import ASSAYS

    qpcr = read_option_types(ASSAYS["qpcr"].read)
    assert set(qpcr["references"]) == {str, list, dict} and qpcr["max_cycle"] == (float,)


def test_the_fit_key_changes_with_the_input_and_settings_only(tmp_path):
    study = load_study(_study(tmp_path, CHEAP))
    spec = study.assays["western"]
    settings = sampler_settings(study)
    key = fit_key(spec, settings, None, None)
    assert key == fit_key(spec, sampler_settings(study, progress=True), None, None)
    assert key != fit_key(spec, sampler_settings(study, tune=400), None, None)
    with open(spec.file, "a", encoding="utf-8") as f:
        f.write("Huh7,E9,Huh7-blot9,1,miR-NC,80.0,20000,30000\n")
    assert key != fit_key(spec, settings, None, None)


@pytest.mark.slow
def test_rerunning_refits_only_the_edited_assay_and_tables_are_byte_identical(tmp_path):
    path = _study(tmp_path, CHEAP)
    out = tmp_path / "out"
    assert main(["study", str(path), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    claims = pd.read_csv(out / "claims.csv")
    assert list(claims.columns[:9]) == ["claim", "assay", "estimate", "q2.5", "q97.5",
                                        "probability", "p_margin", "classical_p", "verdict"]
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")}
    posteriors = {a: (out / a / "posterior.nc").stat().st_mtime_ns
                  for a in ("western", "luciferase")}
    # same seed, same inputs, everything refitted: byte-identical tables
    fresh = tmp_path / "fresh"
    assert main(["study", str(path), "--out", str(fresh), "--jobs", "2"]) == 0
    second = {p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*.csv")}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    # edit one assay's file: only that assay is refitted
    blots = tmp_path / "western.csv"  # a re-quantified band
    blots.write_text(blots.read_text().replace("23990.2", "23500.0"))
    assert main(["study", str(path), "--out", str(out), "--jobs", "1"]) == 0
    assert (out / "luciferase" / "posterior.nc").stat().st_mtime_ns == posteriors["luciferase"]
    assert (out / "western" / "posterior.nc").stat().st_mtime_ns != posteriors["western"]
    assert (out / "western" / KEY_FILE).is_file()
    assert not list(out.glob(".*.old"))


def test_a_folder_of_other_files_is_refused(tmp_path, capsys):
    path = _study(tmp_path, CHEAP)
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    assert main(["study", str(path), "--out", str(out)]) == 2
    assert "study.json" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


def test_check_validates_without_fitting(tmp_path, capsys):
    path = _study(tmp_path, CHEAP)
    assert main(["study", str(path), "--out", str(tmp_path / "o"), "--check"]) == 0
    assert "is valid: 2 assay(s), 2 claim(s)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_failed_network_step_is_reported_not_raised(tmp_path):
    """STRING unreachable or a bad network file: the expression fit is kept, the step says
    what failed (and the run is not marked reusable, so the next run tries again)."""
    from chemoshift.study import NetworkSpec
    from chemoshift.study.run import FitJob, _network_steps

    bad = tmp_path / "network.tsv"
    bad.write_text("not a STRING file\n")
    spec = load_study(_study(tmp_path, CHEAP)).assays["western"]
    job = FitJob(spec, tmp_path / "no-run", "key", sampler_settings(load_study(
        tmp_path / "study.toml")), NetworkSpec(file=bad), None, "t")
    said = _network_steps(job)
    assert "`chemoshift enrich` failed" in said and "`chemoshift network` failed" in said


def _study_beside_elsewhere(tmp_path: Path) -> tuple[Path, Path]:
    """An empty study folder, and beside it a folder holding western.csv."""
    elsewhere, folder = tmp_path / "elsewhere", tmp_path / "study"
    elsewhere.mkdir()
    folder.mkdir()
    shutil.copy(EXAMPLE / "western.csv", elsewhere / "western.csv")
    return folder, elsewhere


def test_paths_leaving_the_study_folder_are_refused_with_their_line_and_key(tmp_path):
    folder, elsewhere = _study_beside_elsewhere(tmp_path)
    text = CHEAP.replace('file = "western.csv"', 'file = "../elsewhere/western.csv"').replace(
        'file = "luciferase.csv"', f'file = "{EXAMPLE / "luciferase.csv"}"')
    path = _study(folder, text, files=())
    problems = "\n".join(_problems(path))
    line = text.splitlines().index('file = "../elsewhere/western.csv"') + 1
    assert f"{path}:{line}:assays.western.file: '../elsewhere/western.csv' lies outside" in (
        problems)
    assert "assays.luciferase.file" in problems and "--allow-outside-paths" in problems
    study = load_study(path, allow_outside_paths=True)  # the caller's explicit choice
    assert study.assays["western"].file.resolve() == (elsewhere / "western.csv").resolve()
    assert main(["study", str(path), "--out", str(tmp_path / "o"), "--check"]) == 2
    assert main(["study", str(path), "--out", str(tmp_path / "o"), "--check",
                 "--allow-outside-paths"]) == 0


def test_a_symbolic_link_out_of_the_study_folder_is_refused(tmp_path):
    folder, elsewhere = _study_beside_elsewhere(tmp_path)
    path = _study(folder, CHEAP, files=("luciferase.csv",))
    (folder / "western.csv").symlink_to(elsewhere / "western.csv")
    assert any("assays.western.file: 'western.csv' lies outside" in p for p in _problems(path))


def test_a_study_killed_before_its_record_is_resumed_not_refused(tmp_path):
    """A study killed midway leaves complete run directories and no study.json: running
    it again resumes (unchanged fits reused), where a folder of other files is refused."""
    from chemoshift.study.run import check_out_dir

    study = load_study(_study(tmp_path, CHEAP))
    out = tmp_path / "out"
    (out / "western").mkdir(parents=True)
    (out / "claims.csv").write_text("claim\n")
    (out / ".luciferase.abc123.partial").mkdir()  # a fit killed while writing
    check_out_dir(out, study)  # no refusal
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"notes\.txt"):
        check_out_dir(out, study)


def test_a_qpcr_option_problem_sits_on_its_keys_line_in_the_studys_words(tmp_path):
    """qPCR's reader says which read option a problem comes from, as every reader does:
    a control naming no condition is placed on the ``controls`` line, named as the key."""
    path = _study(tmp_path, """[assays.qpcr]
file = "qpcr.csv"
references = { "miR-379" = "RNU48", "IGF1R" = "GAPDH" }
dose = "dose_nM"

controls = { "si-IGF1R" = "si-NCX" }
""", files=("qpcr.csv",))
    said = _problems(path)
    assert any(":6:assays.qpcr.controls:" in p and "controls names 'si-NCX'" in p
               for p in said), said
