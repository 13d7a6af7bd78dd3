"""Plates that contradict each other (chemoshift.data.qpcr_plates), on small long files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.data.errors import InputError
from chemoshift.data.qpcr import read_qpcr


def plates(seed: int = 0) -> pd.DataFrame:
    """Two plates, each holding triplicates of REF and T for the same six samples (three a
    condition); Cts that agree between plates up to well noise."""
    rng = np.random.default_rng(seed)
    loading = rng.normal(0, 0.3, 6)
    rows = []
    for plate, offset in (("P1", 0.0), ("P2", 0.4)):
        well = 0
        for c, (condition, shift) in enumerate((("ctrl", 0.0), ("treated", 1.0))):
            for k in range(3):
                sample = f"{condition}-{k + 1}"
                for gene, level in (("REF", 18.0 + offset), ("T", 25.0 + offset + shift)):
                    for _ in range(3):
                        well += 1
                        rows.append(dict(plate=plate, well=f"A{well}", sample=sample,
                                         condition=condition, gene=gene,
                                         ct=round(level + loading[3 * c + k]
                                                  + rng.normal(0, 0.1), 2)))
    return pd.DataFrame(rows)


def write(frame: pd.DataFrame, tmp_path, name="cts.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_consistent_plates_are_read_without_a_note(tmp_path):
    data = read_qpcr(write(plates(), tmp_path), references="REF")
    assert not any("plate" in note and "reads" in note for note in data.notes)
    assert data.reactions.plate.nunique() == 2


def test_a_plate_saved_twice_counts_once(tmp_path):
    frame = plates()
    copy = frame[frame.plate == "P1"].assign(plate="P1 rerun")
    data = read_qpcr(write(pd.concat([frame, copy]), tmp_path), references="REF")
    assert "'P1 rerun' repeats 'P1'" in " ".join(data.notes)
    assert len(data.reactions) == len(frame)


def test_a_ct_map_saved_as_another_samples_plate_is_refused(tmp_path):
    frame = plates()
    copy = frame[frame.plate == "P1"].assign(plate="P3", sample=lambda f: "other " + f["sample"])
    with pytest.raises(InputError, match=r"plates 'P1' and 'P3' hold the same Ct in every one "
                                         r"of their 36 detected wells"):
        read_qpcr(write(pd.concat([frame, copy]), tmp_path), references="REF")


def test_one_sample_reading_apart_on_two_plates_is_refused_naming_the_odd_plate(tmp_path):
    frame = plates()
    odd = (frame.plate == "P2") & (frame["sample"] == "treated-2") & (frame.gene == "T")
    frame.loc[odd, "ct"] += 5.0
    with pytest.raises(InputError) as refused:
        read_qpcr(write(frame, tmp_path), references="REF")
    message = str(refused.value)
    assert "plate 'P2' reads ΔCt" in message and "from plate 'P1'" in message
    assert "T of treated-2 (treated)" in message
    assert "--exclude-plates 'P2'" in message
    # 2.5 cycles apart is within what one cDNA may read on two plates: accepted
    frame.loc[odd, "ct"] -= 2.5
    read_qpcr(write(frame, tmp_path), references="REF")


def test_excluding_a_plate_from_the_command_line(tmp_path, capsys):
    frame = plates()
    frame.loc[(frame.plate == "P2") & (frame.gene == "T"), "ct"] += 5.0
    path = write(frame, tmp_path)
    assert main(["fit", "qpcr", str(path), "--out", str(tmp_path / "run"),
                 "--reference", "REF", "--exclude-plates", "P9"]) == 2
    assert "--exclude-plates ['P9']: no such plate" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    data = read_qpcr(path, references="REF", exclude_plates=["P2"])
    assert set(data.reactions.plate) == {"P1"}
    assert "36 reaction(s) of the plate(s) ['P2'] were left out" in " ".join(data.notes)
