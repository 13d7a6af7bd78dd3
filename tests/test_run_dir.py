"""Run-directory files are written whole or not at all, and read back as written."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_base import from_dict

from chemoshift.data import run_dir as files


def test_a_write_that_fails_midway_leaves_nothing(tmp_path):
    target = tmp_path / "summary.csv"
    with pytest.raises(RuntimeError), files.atomic_path(target) as temporary:
        temporary.write_text("half a table")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_survives_a_failed_rewrite(tmp_path):
    target = tmp_path / "run.json"
    files.write_json(target, {"seed": 1})
    with pytest.raises(RuntimeError), files.atomic_path(target) as temporary:
        temporary.write_text("{")
        raise RuntimeError("killed")
    assert files.read_record(tmp_path) == {"seed": 1}


def test_datatree_round_trip_drops_only_text_per_draw(tmp_path):
    tree = from_dict({
        "posterior": {"log10_ic50": np.arange(12.0).reshape(1, 4, 3)},
        "sample_stats": {"diverging": np.zeros((1, 4), bool),
                         "divergence_message": np.full((1, 4), None, dtype=object)},
    }, dims={"log10_ic50": ["curve"]}, coords={"curve": ["a", "b", "c"]})
    files.write_datatree(tmp_path / files.POSTERIOR, tree)
    back = files.read_datatree(tmp_path)
    np.testing.assert_array_equal(back["posterior"]["log10_ic50"], tree["posterior"]["log10_ic50"])
    assert list(back["posterior"]["curve"].values) == ["a", "b", "c"]
    assert "divergence_message" not in back["sample_stats"]


def test_versions_name_the_stack():
    found = files.versions()
    assert {"python", "pymc", "nutpie", "arviz", "numpy"} <= set(found)
