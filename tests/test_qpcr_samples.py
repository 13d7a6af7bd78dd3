"""The unit of replication: a long Ct file names its biological samples, wide rows are samples.

Technical triplicate wells of one sample are not three biological replicates: a long file
(one row per reaction) without a sample column is refused, and with one (its own name, or
mapped by ``sample=``) its wells nest in their samples and a target pairs with the
reference reactions of its own sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chemoshift.data.errors import InputError
from chemoshift.data.qpcr import read_qpcr
from chemoshift.models.qpcr import model_terms
from chemoshift.reports.qpcr.tables import classical
from chemoshift.study import load_study

N_BIOLOGICAL, N_TECHNICAL = 3, 3  # per condition; genes T (target) and R (reference)


def triplicates(seed: int = 0) -> pd.DataFrame:
    """A long file: 2 conditions x 3 biological samples (``biorep``) x 2 genes x 3 wells."""
    rng = np.random.default_rng(seed)
    rows = []
    for condition, shift in (("NC", 0.0), ("mimic", 1.5)):
        for b in range(1, N_BIOLOGICAL + 1):
            loading = rng.normal(0.0, 0.5)
            for gene, level in (("T", 28.0 + shift), ("R", 20.0)):
                for t in range(1, N_TECHNICAL + 1):
                    rows.append(dict(condition=condition, biorep=f"{condition}-{b}",
                                     technical_replicate=t, gene=gene,
                                     ct=f"{level + loading + rng.normal(0.0, 0.1):.2f}"))
    return pd.DataFrame(rows)


def test_long_file_without_sample_is_refused_naming_file_and_column(write_csv):
    path = write_csv(triplicates(), "cts.csv")
    with pytest.raises(InputError) as error:
        read_qpcr(path, references="R")
    [problem] = [p for p in error.value.problems if p.column == "sample"]
    assert (problem.file, problem.row) == (str(path), None)
    message = str(error.value)
    assert f"{path}:sample: column missing in a long file" in message
    assert "technical replicate wells would count as biological replicates" in message
    assert "pairing with the reference" in message
    assert "--sample COLUMN or --columns sample=COLUMN" in message and "wide" in message


def test_refusal_points_at_a_replicate_column(write_csv):
    frame = triplicates().rename(columns={"biorep": "replicate"})
    with pytest.raises(InputError, match="--sample replicate if its 'replicate' numbers"):
        read_qpcr(write_csv(frame), references="R")


@pytest.mark.parametrize("options", [dict(sample="biorep"), dict(columns={"sample": "biorep"})],
                         ids=["sample=", "columns"])
def test_named_sample_column_nests_technical_triplicates(write_csv, options):
    data = read_qpcr(write_csv(triplicates()), references="R", **options)
    n_samples = 2 * N_BIOLOGICAL
    assert len(data.reactions) == n_samples * 2 * N_TECHNICAL
    assert len(data.samples) == n_samples  # biological samples, not 3n wells
    assert data.reactions.groupby(["sample", "gene"]).size().eq(N_TECHNICAL).all()
    assert model_terms(data)["technical_replicates"]
    fold, p = classical(data.reactions, data.genes, "T", "mimic", "NC")
    assert fold == pytest.approx(2 ** -1.5, rel=0.2)  # 0.1-cycle well noise only
    assert np.isfinite(p)  # target and reference paired within each sample


def test_empty_sample_cell_is_refused(write_csv):
    frame = triplicates().rename(columns={"biorep": "sample"})
    frame.loc[4, "sample"] = ""
    with pytest.raises(InputError, match=r":6:sample: empty; expected the biological sample"):
        read_qpcr(write_csv(frame), references="R")


@pytest.mark.parametrize("drop", [[], ["replicate"]], ids=["replicate", "no key"])
def test_wide_livak_table_without_sample_still_reads(reference, tmp_path, drop):
    frame = pd.read_csv(reference / "qpcr" / "livak2001_same_tube.csv").drop(columns=drop)
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    data = read_qpcr(path, references="GAPDH", condition="tissue")
    assert data.layout == "wide"
    assert len(data.samples) == len(frame)  # each row one biological sample
    assert data.reactions.groupby("sample").gene.nunique().eq(2).all()  # c_myc beside GAPDH


def test_study_file_names_the_sample_column(write_csv, tmp_path):
    write_csv(triplicates(), "cts.csv")
    study = tmp_path / "study.toml"
    assay = '[study]\ntitle = "t"\n\n[assays.qpcr]\nfile = "cts.csv"\nreferences = "R"\n'
    study.write_text(assay, encoding="utf-8")
    with pytest.raises(InputError, match=r"cts.csv:sample: column missing"):
        load_study(study)
    study.write_text(assay + 'sample = "biorep"\n', encoding="utf-8")
    assert load_study(study).assays["qpcr"].read_options["sample"] == "biorep"
