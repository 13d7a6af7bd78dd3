"""The study report: the answer first, the chain as one figure, every assay, diagnostics and
provenance, over fake run directories (a converged run, one that did not converge, one
without a report, one that left no directory) so every path of the page is exercised."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from chemoshift.data import run_dir as files
from chemoshift.reports.figure_style import PALETTE, figure_style
from chemoshift.reports.mechanism.figures import forest
from chemoshift.reports.run_sections import scope_css
from chemoshift.reports.study import report as study_report
from chemoshift.reports.study.chain_figure import agreement_factor, chain_figure, verdict_category
from chemoshift.reports.study.format import (
    CLAIM_COLUMNS,
    CLAIM_EXTRA,
    DIAGNOSTIC_COLUMNS,
    format_claim_cell,
    format_p_value,
    format_probability,
)
from chemoshift.reports.study.report import write_study_report

PNG_1X1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
           "RU5ErkJggg==")
TITLE = "miR-379 study (fake runs)"
SHA = "0123456789abcdef" * 4


def fake_run(folder: Path, assay: str, *, passed: bool = True, report: bool = True,
             posterior: bool = False) -> Path:
    """A run directory with run.json (diagnostics), optionally report.html (with a scoped
    style, ids, an in-page link, a relative link and one base64 figure) and posterior.nc."""
    run = folder / assay
    run.mkdir(parents=True)
    diagnostics = dict(max_rhat=1.004 if passed else 1.083, min_ess_bulk=697.4,
                       min_ess_tail=512.0 if passed else 41.2, divergences=0 if passed else 12,
                       passed=passed, verdict="converged: R-hat <= 1.004" if passed
                       else "NOT converged: R-hat 1.083 > 1.01, 12 divergences")
    files.write_json(run / "run.json", dict(assay=assay, seed=379, diagnostics=diagnostics))
    if report:
        files.write_text(run / "report.html", f"""<!DOCTYPE html><html><head><style>
body {{ max-width: 60rem; }} h2 {{ color: #123456; }} .ok {{ background: #e7f5ea; }}
</style></head><body><h1>Fake {assay} report</h1><p class="ok">Diagnostics</p>
<h2 id="figures">Figures</h2><a href="#figures">figures</a> <a href="summary.csv">table</a>
<figure><img alt="{assay} figure" src="data:image/png;base64,{PNG_1X1}"></figure>
</body></html>""")
    if posterior:
        files.write_datatree(run / "posterior.nc",
                             from_dict({"posterior": {"x": np.zeros((2, 50))}}))
    (run / "summary.csv").write_text("a,b\n1,2\n")
    return run


def fake_claims() -> pd.DataFrame:
    """claims.csv rows of every verdict kind, on every chain step (apoptosis not evaluable,
    western unreliable), plus network and enrichment rows."""
    rows = [
        ("miR-379 sensitises Huh7 to DOX", "dose-response", 0.465, 0.325, 0.679, 1.0, 0.969,
         0.0375, "supported", "ic50_shift", "sensitisation", "fold shift (IC50 treated / "
         "control)", "True"),
        ("si-IGF1R sensitises Huh7 to DOX", "dose-response", 0.82, 0.55, 1.19, 0.862, 0.14,
         0.21, "weak evidence: P(claim) = 0.86, below the 0.95 a supported claim needs",
         "ic50_shift", "sensitisation", "fold shift (IC50 treated / control)", "True"),
        ("miR-379 and si-IGF1R shift the DOX IC50 alike (within 2-fold)", "dose-response",
         1.05, 0.62, 1.74, 0.988, np.nan, np.nan, "supported", "shift_agreement",
         "agreement", "fold ratio (shift miR-379 / shift si-IGF1R)", "True"),
        ("miR-379 (40 nM) lowers IGF1R mRNA", "qpcr", 0.684, 0.437, 1.053, 0.9577, 0.4467,
         0.145, "supported, but possibly smaller than the practical margin", "qpcr_fold",
         "IGF1R knock-down", "fold change (2^-ΔΔCt)", "True"),
        ("miR-379 lowers IGF1R protein in Huh7", "western", 0.458, 0.346, 0.605, 1.0, 0.992,
         0.000217, "UNRELIABLE (the western fit did not converge): supported",
         "western_fold", "IGF1R knock-down", "fold change (target / loading)", "False"),
        ("miR-379 represses the wild-type 3'UTR beyond the mutant", "luciferase", 0.638,
         0.48, 0.856, 0.9983, 0.633, 0.0046, "supported", "luciferase", "3'UTR repression",
         "ratio (treated / control)", "True"),
        ("miR-379 raises DOX-induced apoptosis in Huh7", "apoptosis", np.nan, np.nan, np.nan,
         np.nan, np.nan, np.nan, "not evaluable: no apoptosis run directory", "apoptosis",
         "apoptosis", "", ""),
        ("The named gene is a top-20 hub: IGF1", "expression", np.nan, np.nan, np.nan,
         np.nan, np.nan, np.nan, "not evaluable: IGF1 is not in the network", "hubs",
         "network", "", "True"),
        ("The named KEGG pathway is enriched: PI3K-Akt", "expression", 2.74, 1.83, 3.2,
         0.00166667, np.nan, 1.2e-5, "not supported", "pathways", "enrichment",
         "fold enrichment", "True"),
    ]
    table = pd.DataFrame(rows, columns=[*CLAIM_COLUMNS, "kind", "step", "scale", "converged"])
    table["direction"] = "down"
    table["run"] = table["assay"]
    table["classical_test"] = "Welch t-test"
    table["detail"] = "probability = P(fold < 1)"
    table["mcse"] = 0.004
    return table[CLAIM_COLUMNS + CLAIM_EXTRA]


def fake_record(run_dirs: dict[str, Path]) -> dict:
    """What study.json holds, as the study runner writes it."""
    return dict(
        title=TITLE, study_file="study.toml", study_sha256=SHA, chemoshift_version="0.1.0",
        versions={"python": "3.12.1", "pymc": "6.4.0", "nutpie": "0.16.11"}, seed=379,
        settings=dict(sampler=dict(draws=1500, tune=500, seed=379), workers=2, margin=1.5,
                      verdict=dict(strong=0.95, weak=0.8, margin=0.5)),
        fits=[dict(assay=a, run=a, reused=a == "qpcr", seconds=12.5, exit_code=0 if a not in
                   ("western", "apoptosis") else 3) for a in run_dirs],
        inputs=[dict(assay=a, path=f"data/{a}.csv", sha256=SHA) for a in run_dirs])


def build_fake_study(folder: Path) -> tuple[dict[str, Path], pd.DataFrame, dict]:
    """Run directories (apoptosis missing: its fit failed), claims.csv and study.json in
    ``folder``; returns what write_study_report takes."""
    folder.mkdir(parents=True, exist_ok=True)
    run_dirs = {"expression": fake_run(folder, "expression"),  # out of order on purpose
                "dose-response": fake_run(folder, "dose-response", posterior=True),
                "qpcr": fake_run(folder, "qpcr"),
                "western": fake_run(folder, "western", passed=False),
                "luciferase": fake_run(folder, "luciferase", report=False),
                "apoptosis": folder / "apoptosis"}
    claims = fake_claims()
    files.write_csv(folder / "claims.csv", claims)
    record = fake_record(run_dirs)
    files.write_json(folder / "study.json", record)
    return run_dirs, claims, record


def write_fake_study(folder: Path) -> Path:
    """The fake study's report.html (the browser tests open it)."""
    run_dirs, claims, record = build_fake_study(folder)
    return write_study_report(folder, title=TITLE, run_dirs=run_dirs, claims=claims,
                              record=record)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("study")
    path = write_fake_study(folder)
    return folder, path.read_text(encoding="utf-8")


def claim_rows(page: str) -> list[str]:
    table = re.search(r'<table id="claims-table".*?</table>', page, re.DOTALL).group(0)
    return re.findall(r'<tr class="claim [^"]*">.*?</tr>', table, re.DOTALL)


def test_the_page_reads_answer_chain_assays_diagnostics_provenance_in_that_order(study):
    _, page = study
    places = [page.index(f'<section id="{s}">') for s in
              ("answer", "chain", "assays", "diagnostics", "provenance")]
    assert places == sorted(places)
    assays = [page.index(f'<section id="{a}" class="assay">') for a in
              ("dose-response", "qpcr", "western", "luciferase", "apoptosis", "expression")]
    assert assays == sorted(assays) and places[2] < assays[0] < places[3]  # chain order
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_claims_table_shows_every_claim_with_the_numbers_of_claims_csv(study):
    folder, page = study
    claims = pd.read_csv(folder / "claims.csv", dtype=str, keep_default_na=False)
    rows = claim_rows(page)
    assert len(rows) == len(claims)
    for html_row, (_, claim) in zip(rows, claims.iterrows(), strict=True):
        for column in ("estimate", "q2.5", "q97.5", "probability", "p_margin", "classical_p"):
            cell = re.search(rf'data-col="{re.escape(column)}"[^>]*>([^<]*)<', html_row)[1]
            assert html.unescape(cell) == format_claim_cell(column, claim[column]), column


def test_weak_unsupported_unreliable_and_not_evaluable_claims_are_marked(study):
    _, page = study
    classes = [re.match(r'<tr class="claim ([^"]*)"', r)[1] for r in claim_rows(page)]
    assert classes == ["supported", "weak", "supported", "margin", "unreliable", "supported",
                       "not-evaluable", "not-evaluable", "unsupported"]
    assert "1 claim(s) rest on a fit that did not converge" in page


def test_a_claim_on_a_failed_fit_is_marked_even_if_its_row_says_converged(tmp_path):
    run_dirs, claims, record = build_fake_study(tmp_path)
    claims.loc[4, ["converged", "verdict"]] = ["True", "supported"]  # a stale claims table
    page = write_study_report(tmp_path, title=TITLE, run_dirs=run_dirs, claims=claims,
                              record=record).read_text()
    assert re.match(r'<tr class="claim unreliable"', claim_rows(page)[4])


def test_diagnostics_csv_has_one_row_per_fit_and_failed_fits_are_loud(study):
    folder, page = study
    table = pd.read_csv(folder / "diagnostics.csv", keep_default_na=False, na_values=[""])
    assert list(table.columns) == DIAGNOSTIC_COLUMNS
    assert list(table.assay) == ["dose-response", "qpcr", "western", "luciferase",
                                 "apoptosis", "expression"]
    assert list(table.run) == list(table.assay)  # relative to the study folder
    by = table.set_index("assay")
    assert by.loc["dose-response", "draws"] == 50 and by.loc["dose-response", "chains"] == 2
    assert np.isnan(by.loc["qpcr", "draws"])  # no posterior.nc: blank, not an error
    assert not by.loc["western", "converged"] and by.loc["western", "divergences"] == 12
    assert by.loc["apoptosis", "verdict"].startswith("FAILED: no run directory")
    assert page.count('<tr class="fit-failed">') == 2
    assert "2 of 6 fits did not converge or failed" in page


def test_inputs_csv_lists_paths_as_recorded_with_hashes(study):
    folder, _ = study
    inputs = pd.read_csv(folder / "inputs.csv")
    assert list(inputs.columns) == ["assay", "path", "sha256"]
    assert inputs.path.iloc[0] == "data/expression.csv" and (inputs.sha256 == SHA).all()


def test_study_csvs_are_byte_identical_when_written_again(study, tmp_path):
    folder, _ = study
    write_fake_study(tmp_path / "again")
    for name in ("diagnostics.csv", "inputs.csv", "claims.csv"):
        assert (folder / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_provenance_names_the_study_file_hash_seed_settings_and_reused_fits(study):
    _, page = study
    provenance = page[page.index('<section id="provenance">'):]
    for text in ("study.toml", SHA, "379", "&quot;workers&quot;: 2", "reused", "pymc",
                 "data/qpcr.csv"):
        assert text in provenance, text
    fits = re.search(r'<table id="fits-table".*?</table>', provenance, re.DOTALL)[0]
    assert re.search(r"<td>qpcr</td><td>qpcr</td><td>reused</td>", fits)


def test_run_sections_are_embedded_scoped_and_stand_ins_say_why(study):
    _, page = study
    section = page[page.index('<section id="dose-response" class="assay">'):]
    section = section[:section.index("</section>")]
    assert "<h2>Fake dose-response report</h2>" in section  # headings one level down
    assert 'id="dose-response-figures"' in section and 'href="#dose-response-figures"' in section
    assert 'href="dose-response/summary.csv"' in section  # relative links into the run
    assert "#dose-response h3 {color: #123456;}" in page  # its CSS applies to it alone
    assert "no report.html in luciferase/" in page
    western = page[page.index('<section id="western" class="assay">'):]
    assert "This fit did NOT converge" in western[:western.index("</section>")]
    assert "The apoptosis fit left no run directory" in page


def test_scoped_css_never_reaches_outside_its_section():
    css = scope_css("body { margin: 0 } h1, .x td { color: red } @media print { p {} }", "#s")
    assert css.splitlines()[:2] == ["#s {margin: 0}", "#s h2, #s .x td {color: red}"]
    assert "body" not in css


def test_a_chain_figure_that_fails_is_boxed_and_the_page_still_written(tmp_path, monkeypatch):
    run_dirs, claims, record = build_fake_study(tmp_path)

    def broken(_claims):
        raise RuntimeError("no luck")

    monkeypatch.setattr(study_report, "chain_figure", broken)
    page = write_study_report(tmp_path, title=TITLE, run_dirs=run_dirs, claims=claims,
                              record=record).read_text()
    assert 'Figure "The mechanism chain" could not be drawn: RuntimeError: no luck' in page
    assert '<section id="provenance">' in page


def test_no_claims_gives_boxes_not_a_crash(tmp_path):
    run_dirs, _, record = build_fake_study(tmp_path)
    page = write_study_report(tmp_path, title=TITLE, run_dirs=run_dirs,
                              claims=pd.DataFrame(), record=record).read_text()
    assert "The study evaluated no claim" in page
    assert "makes no claim about a step of the mechanism chain" in page


def test_chain_figure_draws_each_present_step_on_a_log_axis_with_a_line_at_one():
    fig = chain_figure(fake_claims())
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    titles = [ax.get_title(loc="left") for ax in axes]
    assert [t.split(":")[0] for t in titles] == ["1. Sensitisation", "2. IGF1R knock-down",
                                                 "3. 3'UTR repression", "4. Apoptosis"]
    for ax in axes:
        assert ax.get_xscale() == "log" and ax.get_xlabel()  # units on every axis
        assert any(list(line.get_xdata()) == [1, 1] for line in ax.lines)
    texts = [t.get_text() for t in axes[3].texts]
    assert texts == ["not evaluable: no apoptosis run directory"]
    annotations = [t.get_text() for t in axes[0].texts]
    assert annotations == ["P(within 2-fold)\n= 0.988"]


def test_chain_figure_copes_with_missing_steps_and_differences():
    claims = fake_claims()
    knock_down = claims[claims.step == "IGF1R knock-down"]
    points = claims.iloc[[6]].assign(estimate=11.2, **{"q2.5": 6.4, "q97.5": 16.3},
                                     probability=1.0, verdict="supported", converged="True",
                                     scale="difference in percentage points")
    fig = chain_figure(pd.concat([knock_down, points]))
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_xscale() for ax in axes] == ["log", "linear"]
    assert "percentage points" in axes[1].get_xlabel()
    assert any(list(line.get_xdata()) == [0, 0] for line in axes[1].lines)
    note = fig._supxlabel.get_text()
    assert "No claim in this study for: sensitisation, 3'UTR repression" in note
    with pytest.raises(LookupError, match="no claim about a step"):
        chain_figure(claims[claims.step == "network"])


def test_verdicts_map_to_categories_and_the_agreement_factor_is_read():
    assert verdict_category("supported", "False") == "unreliable"
    assert verdict_category("UNRELIABLE (the qpcr fit did not converge): supported") == \
        "unreliable"
    assert verdict_category("supported, but possibly smaller than the practical margin") == \
        "margin"
    assert verdict_category("weak evidence: P = 0.9") == "weak"
    assert verdict_category("not evaluable: no row") == "not evaluable"
    assert verdict_category("not supported") == "unsupported"
    assert agreement_factor(pd.Series({"claim": "alike", "detail": "within 2-fold"})) == 2.0
    assert agreement_factor(pd.Series({"claim": "alike (factor of 1.5)"})) == 1.5
    assert agreement_factor(pd.Series({"claim": "alike"})) is None


def test_numbers_are_formatted_as_a_reader_needs_them():
    assert [format_probability(p) for p in (1.0, 0.9995, 0.96949, 0.0001, "", None)] == \
        ["> 0.999", "> 0.999", "0.969", "< 0.001", "—", "—"]
    assert [format_p_value(p) for p in (0.0375, 2.17e-4, "1.82954e-09")] == \
        ["0.037", "2.2e-04", "1.8e-09"]
    assert format_claim_cell("estimate", "1234.5") == "1,234"
    assert format_claim_cell("estimate", 0.46498) == "0.465"


def test_the_shared_style_sets_the_palette_and_readable_fonts():
    fig = forest(pd.DataFrame({"median": [0.5], "q2.5": [0.3], "q97.5": [0.8]}), ["a"],
                 reference=1.0, log=True, xlabel="fold (log scale)")
    ax = fig.axes[0]
    assert ax.get_yticklabels()[0].get_fontsize() >= 8
    assert ax.lines[0].get_color().lower() == PALETTE[0].lower()
    with figure_style():
        import matplotlib as mpl

        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == PALETTE


def test_the_fake_record_is_the_shape_study_json_has(study):
    folder, _ = study
    record = json.loads((folder / "study.json").read_text())
    assert {"title", "study_file", "study_sha256", "chemoshift_version", "versions", "seed",
            "settings", "fits", "inputs"} <= set(record)
