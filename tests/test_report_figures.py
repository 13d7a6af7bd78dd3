"""Figures of a dose-response run stay bounded and draw whatever values a run holds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from chemoshift.reports.classical import fit_curves
from chemoshift.reports.dose_response.figures import (
    classical_comparison,
    curve_pages,
    curve_panels,
    rank_plots,
    shift_forest,
)

KEYS = ["cell_line", "drug"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def screen(n_lines: int, n_drugs: int, seed: int = 0):
    """Wells, curves (two arms per cell line x drug) and a 2-chain posterior of fake draws."""
    rng = np.random.default_rng(seed)
    curves = pd.DataFrame([dict(cell_line=f"L{i}", drug=f"d{j}", treatment=arm, control=control,
                                min_concentration=0.01, max_concentration=10.0)
                           for i in range(n_lines) for j in range(n_drugs)
                           for arm, control in (("NC", ""), ("mimic", "NC"))])
    doses = np.r_[np.nan, np.linspace(-2, 1, 6)]
    wells = pd.DataFrame([dict(curve=c, top_group=c // (2 * n_drugs) * 2 + c % 2,
                               log10_concentration=x, response=1.0 - 0.1 * (x if x == x else -2),
                               well_type="vehicle" if np.isnan(x) else "sample")
                          for c in range(len(curves)) for x in doses])
    n, shape = len(curves), (2, 50)
    datatree = from_dict({"posterior": {
        "log10_ic50": rng.normal(0, 0.2, (*shape, n)),
        "hill": np.exp(rng.normal(0, 0.1, (*shape, n))),
        "bottom": rng.uniform(0.05, 0.2, (*shape, n)),
        "top": rng.normal(1.0, 0.02, (*shape, int(wells.top_group.max()) + 1)),
    }}, dims={"log10_ic50": ["curve"], "hill": ["curve"], "bottom": ["curve"],
              "top": ["top_group"]})
    return wells, curves, datatree


def shown_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def test_infinite_and_missing_values_draw_as_beyond_range_markers():
    shifts = pd.DataFrame({
        "cell_line": ["A", "B", "C", "all"], "drug": ["d1"] * 3 + ["all"],
        "quantity": ["ic50_absolute"] * 3 + ["ic50_relative"],
        "treatment": ["mimic"] * 4, "control": ["NC"] * 4,
        "median": [0.5, np.nan, 2.0, 0.7], "q2.5": [0.0, np.nan, 1.0, 0.5],
        "q97.5": [np.inf, np.nan, np.inf, 0.9]})  # 0 and +inf bounds, a blank median
    fig = shift_forest(shifts, KEYS, 1.5)
    fig.canvas.draw()  # the log axis used to overflow on +inf here
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["beyond range"]  # one marker, labelled, for the blank median
    left, right = fig.axes[0].get_xlim()
    assert np.isfinite([left, right]).all()

    summary = pd.DataFrame({"cell_line": ["A", "B"], "drug": ["d1", "d1"],
                            "quantity": ["ic50_relative"] * 2, "unit": ["uM"] * 2,
                            "median": [1.0, np.nan], "q2.5": [0.5, np.nan],
                            "q97.5": [2.0, np.nan]})
    classical = pd.DataFrame({"curve": [0, 1], "log10_ic50": [np.nan, np.inf],
                              "log10_low": [np.nan, 0.0], "log10_high": [np.nan, np.inf],
                              "converged": [False, True]})
    classical_comparison(summary, classical, KEYS).canvas.draw()


def test_a_20_drug_set_rank_plot_stays_within_matplotlibs_subplot_limit():
    rng = np.random.default_rng(1)
    shape = (2, 100)
    datatree = from_dict({"posterior": {
        "drug_mean": rng.normal(size=(*shape, 20)), "log_hill_drug": rng.normal(size=(*shape, 20)),
        "shift_mean": rng.normal(size=(*shape, 2)), "sigma": rng.gamma(5, size=shape),
        "nu": rng.gamma(5, size=shape), "log10_ic50_absolute": np.full((*shape, 3), np.inf),
    }}, dims={"drug_mean": ["drug"], "log_hill_drug": ["drug"], "shift_mean": ["treated"],
              "log10_ic50_absolute": ["curve"]})  # 42 panels used to crash plt.subplots
    fig = rank_plots(datatree)
    titles = [ax.get_title() for ax in shown_axes(fig)]
    assert 2 <= len(titles) <= 14
    assert "sigma" in titles and "nu" in titles  # every scalar, picked from the posterior
    assert not any(t.startswith("log10_ic50_absolute") for t in titles)  # +inf draws: skipped


def test_curve_panels_stop_at_max_panels_and_say_so():
    wells, curves, datatree = screen(30, 1)
    fig = curve_panels(datatree, wells, curves, "uM", "absorbance")
    assert len(shown_axes(fig)) == 16
    assert "16 of 30 panels" in fig._suptitle.get_text()


def test_curve_pages_are_per_drug_with_at_most_16_panels_each():
    wells, curves, datatree = screen(20, 3)
    pages = curve_pages(datatree, wells, curves, "uM", "absorbance")
    assert [title for title, _ in pages][:2] == ["d0 (cell lines 1-16 of 20)",
                                                 "d0 (cell lines 17-20 of 20)"]
    assert len(pages) == 6  # 3 drugs x 2 parts
    assert max(len(shown_axes(fig)) for _, fig in pages) == 16


def test_shared_vehicle_wells_serve_every_curve_of_their_top_group():
    wells, curves, datatree = screen(1, 2)  # top group 0: NC of d0 and d1; 1: mimic of both
    own_vehicles = wells.well_type == "vehicle"
    shared = pd.DataFrame({"curve": -1, "top_group": [0] * 3, "log10_concentration": np.nan,
                           "response": [1.3, 1.3, 1.3], "well_type": "vehicle"})
    wells = pd.concat([wells[~own_vehicles], shared], ignore_index=True)
    fitted = fit_curves(wells)
    assert list(fitted.curve) == [0, 1, 2, 3]  # no fit of a "curve -1"
    assert fitted.top[fitted.curve.isin([0, 2])].to_numpy() == pytest.approx(1.3, abs=0.05)
    fig = curve_panels(datatree, wells, curves, "uM", "absorbance")
    d0 = shown_axes(fig)[0]  # NC (top group 0) and mimic of d0: 6 + 3 shared, and 6 points
    assert sorted(len(c.get_offsets()) for c in d0.collections if hasattr(c, "get_offsets")
                  and len(c.get_offsets()))[-2:] == [6, 9]
