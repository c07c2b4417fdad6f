"""The study table fits the terminal without cutting a number; --wide shows every column; intervals are
displayed clipped to 0-100% and say so; study.png's axis stays in the possible range."""

import io
import re

import pytest
from rich.console import Console

from xnas.nas.study import report


def _row(mean, low, high, over="cells"):
    return {"kind": "search", "mean_err": mean, "ci95": [low, high], "ci_over": over, "best": mean - 1.234,
            "worst": mean + 1.234, "n_cells": 2, "n_trainings": 4, "search_seconds": 123.4, "train_seconds": 10.0,
            "cost_seconds": 133.4, "cost_vs_random": 12.34, "params_M": 0.041, "skip_connect_normal": 1.5,
            "parameter_free_normal": 2.5, "all_parameter_free_cells": 0, "cells": [], "minus_random": None}


SUMMARY = {
    "dataset": "fashion-mnist", "space": "darts", "units_done": 39, "units_planned": 39,
    "methods": {"xnas": _row(90.11, -69.6, 222.39), "darts": _row(12.34, 10.5, 14.18),
                "published-DARTS_V2": _row(9.87, 9.01, 10.73, over="trainings")},
    "xnas_minus_darts": {"n_pairs": 0}, "cost_definition": "cost", "discrimination": {"verdict": "verdict"},
}


def _render(width, wide=False):
    buf = io.StringIO()
    report.render_table(SUMMARY, Console(file=buf, width=width, color_system=None), wide=wide)
    return buf.getvalue()


@pytest.mark.parametrize("width", [120, 100, 80, 60])
def test_table_fits_and_never_cuts_a_number(width):
    text = _render(width)
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert all(len(line) <= width for line in table)
    assert "…" not in text
    for number in ("90.11", "12.34", "9.87", "[10.50, 14.18]", "[9.01, 10.73] *"):
        assert number in text
    if width < 120:
        assert "--wide" in text and "not shown" in text


def test_wide_shows_every_column_at_any_width():
    text = _render(60, wide=True)
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    for column in report.COLUMNS:
        assert column.header in header
    assert "…" not in text and "not shown" not in text


def test_intervals_outside_0_100_are_shown_clipped_and_said():
    text = _render(160)
    assert "[0.00, 100.00]" in text and "-69.60" not in text
    assert re.search(r"clipped to 0-100%", text)


def test_figure_axis_stays_in_the_possible_range(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = dict(SUMMARY, discriminates=False)
    summary["methods"] = {k: dict(v, cells=[{"errors": [90.0, 91.0], "mean_err": 90.5}]) for k, v in SUMMARY["methods"].items()}
    seen = {}
    orig_subplots = plt.subplots

    def spy(*a, **k):
        fig, axes = orig_subplots(*a, **k)
        seen["ax"] = axes[0]
        return fig, axes

    plt.subplots = spy
    try:
        report.plot_study(summary, str(tmp_path / "study.png"))
    finally:
        plt.subplots = orig_subplots
    low, high = seen["ax"].get_ylim()
    assert low >= -2 and high <= 102
    assert (tmp_path / "study.png").stat().st_size > 0


@pytest.mark.parametrize("width", [120, 80])
def test_nb201_scores_table_fits_and_never_cuts_a_number(width):
    """The NAS-Bench-201 scores table under the main one is fitted the same way (issue 24 item 3)."""
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "study", "nb201", "summary.json")
    with open(path, encoding="utf-8") as fh:
        summary = json.load(fh)
    buf = io.StringIO()
    report.render_table(summary, Console(file=buf, width=width, color_system=None))
    text = buf.getvalue()
    assert "NAS-Bench-201 (200 epochs)" in text
    assert all(len(line) <= width for line in text.splitlines() if line[:1] in "┏┃┡│└├")
    assert "…" not in text
    c10 = summary["table"]["methods"]["xnas"]["cifar10_test"]
    for number in (f"{c10['mean']:.2f}", f"[{c10['ci95'][0]:.2f}, {c10['ci95'][1]:.2f}]", "54.30+-0.00"):
        assert number in text
    assert text.count("not shown") == 2


def test_nb201_scores_intervals_are_shown_clipped_to_the_possible_range():
    """An accuracy interval over few cells can pass 100 %: shown clipped, with a line saying so (JSON unchanged)."""
    import copy
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "study", "nb201", "summary.json")
    with open(path, encoding="utf-8") as fh:
        summary = json.load(fh)
    summary = copy.deepcopy(summary)
    summary["table"]["methods"]["xnas"]["cifar10_test"]["ci95"] = [70.07, 111.43]
    buf = io.StringIO()
    report.render_table(summary, Console(file=buf, width=400, color_system=None), wide=True)
    text = buf.getvalue()
    assert "[70.07, 100.00]" in text and "111.43" not in text
    assert "accuracy 95% CIs are shown clipped to 0-100%" in text


def test_footnotes_only_where_they_apply():
    def render(summary):
        buf = io.StringIO()
        report.render_table(summary, Console(file=buf, width=200, color_system=None), wide=True)
        return buf.getvalue()

    assert "* one cell" in render(SUMMARY)  # the published row's interval is over its trainings
    without = dict(SUMMARY, methods={k: v for k, v in SUMMARY["methods"].items() if not k.startswith("published")})
    searched = {"methods": ["xnas", "darts"], "within_sd": 1.5, "levene_p_vs_random": None, "between_sd": 0.5, "p": 0.4}
    text = render(dict(without, discrimination={"verdict": "verdict", "searched_cells": searched}))
    assert "* one cell" not in text
    assert "no random cells' noise to compare with" in text and "Levene p = -" not in text
