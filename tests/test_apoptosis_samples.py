"""What a sample (tube) is in an apoptosis file: one row is one tube, the model's
observation; rows that share a tube's label are repeated counts of it and are summed;
tubes nest in their group x experiment cell."""

from __future__ import annotations

import pandas as pd

from chemoshift.data.apoptosis import read_apoptosis
from chemoshift.data.simulate_mechanism import ApoptosisDesign, simulate_apoptosis


def triplicates() -> pd.DataFrame:
    """Three tubes per group and experiment, labelled 1-3 afresh in every experiment."""
    table, _ = simulate_apoptosis(ApoptosisDesign(samples=3), seed=4)
    table["sample"] = [str(i % 3 + 1) for i in range(len(table))]
    return table.astype(str)


def test_labels_restarting_in_every_group_and_experiment_name_distinct_tubes():
    data = read_apoptosis(triplicates())
    assert len(data.samples) == 72  # 2 cell lines x 4 groups x 3 experiments x 3 tubes
    assert list(data.samples["sample"][:3]) == ["1", "2", "3"]
    assert data.samples.groupby("cell").size().eq(3).all()
    assert data.cells[0] == "Huh7 | miR-NC | vehicle | E1"
    assert not any("several rows" in note for note in data.notes)


def test_rows_without_a_label_are_tubes_of_their_own():
    data = read_apoptosis(triplicates().drop(columns="sample"))
    assert len(data.samples) == 72 and set(data.samples["sample"]) == {"-"}


def test_repeated_counts_of_one_tube_are_summed_and_noted():
    table = triplicates()
    again = table.iloc[[0, 1]].copy()  # tubes 1 and 2 of the first cell acquired twice,
    again["apoptotic"] = (again.apoptotic.astype(int) + 9).astype(str)  # counted afresh
    data = read_apoptosis(pd.concat([table, again], ignore_index=True))
    assert len(data.samples) == 72  # a tube, not another replicate
    first = data.samples.iloc[0]
    assert first.apoptotic == 2 * int(table.apoptotic[0]) + 9 and first.total == 40000
    assert first.source_row == 2  # the tube's first file line
    assert any("2 sample(s) on several rows (first at lines 2, 3)" in note
               for note in data.notes)
