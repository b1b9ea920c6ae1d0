"""Figures of notebooks 01 and 02: set composition, age and sex, prevalence by window and rule, first-use timing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from alsmeds.constants import CATEGORY_CODES, CLASSES, WINDOWS
from alsmeds.plots import MAX_FIGURE_WIDTH, save_figure, use_style
from alsmeds.plots.cohort import plot_age_sex_by_role, plot_set_composition, plot_set_composition_panels
from alsmeds.plots.exposure import (
    plot_exposure_timelines,
    plot_first_use_timing_panels,
    plot_lookback,
    plot_prevalence_by_rule,
    plot_prevalence_by_window,
)
from alsmeds.plots.palette import CLASS_COLOURS, ROLE_COLOURS
from alsmeds.reporting.table1 import exposure_prevalence


@pytest.fixture(autouse=True)
def _style_and_close():
    use_style()
    yield
    plt.close("all")


def _composition() -> pd.DataFrame:
    """Seven sets: siblings 0, 0, 1, 2, 2, 6, 7; spouses in four; one set with 4 population controls."""
    return pd.DataFrame(
        {
            "population_controls": [5, 5, 5, 4, 5, 5, 5],
            "siblings": [0, 0, 1, 2, 2, 6, 7],
            "has_spouse": [True, False, True, True, False, False, True],
        }
    )


def _members() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    roles = ["case"] * 6 + ["population_control"] * 12 + ["sibling"] * 5 + ["spouse"] * 4
    return pd.DataFrame(
        {
            "role": roles,
            "age": rng.uniform(40, 90, len(roles)),
            "sex": np.where(np.arange(len(roles)) % 3 == 0, "female", "male"),
        }
    )


def _table(in_window: bool = False) -> pd.DataFrame:
    """A small analysis table: 4 sets of a case and 3 population controls; cases use more, hypnotics lately."""
    rows = []
    for s in range(4):
        for j, role in enumerate(["case", "population_control", "population_control", "population_control"]):
            pid = 100 * s + j
            index = pd.Timestamp("2020-06-01")
            row = {"person_id": pid, "set_id": s, "role": role, "index_date": index}
            for k_i, k in enumerate(CLASSES):
                user = (role == "case" and s < 2 + k_i % 2) or (role != "case" and (s + j + k_i) % 5 == 0)
                window = ("0_1" if k == "hypnotics" else "gt5") if user else "never"
                row[f"window_{k}"] = window
                row[f"cat_{k}"] = CATEGORY_CODES[window]  # as the derive layer codes it
                row[f"{k}_gt1"] = int(window in ("1_5", "gt5"))
                years = {"0_1": 0.5, "1_5": 3.0, "gt5": 7.0}.get(window)
                row[f"first_qualifying_{k}"] = index - pd.Timedelta(days=365.25 * years) if years else pd.NaT
                if in_window:
                    for w in WINDOWS:
                        # a long-term user (first use >5 y) also uses in the later windows
                        row[f"{k}_in_{w}"] = int(window == w or (window == "gt5" and w == "1_5"))
            rows.append(row)
    return pd.DataFrame(rows)


def _width_ok(fig: plt.Figure) -> None:
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH


def test_set_composition_shows_siblings_by_spouse_and_counts_population_controls():
    composition = _composition()
    ax = plot_set_composition(composition, max_siblings=5)
    _width_ok(ax.figure)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1] == "5+" and labels[0].startswith("0") and len(labels) == 6
    bars = [p for p in ax.patches if p.get_width() > 0]
    filled = [p for p in bars if to_hex(p.get_facecolor()) == ROLE_COLOURS["spouse"]]
    assert sum(p.get_height() for p in filled) == composition["has_spouse"].sum()
    # the last bar holds the two sets with 6 and 7 siblings, one with a spouse
    assert sum(p.get_height() for p in bars if abs(p.get_x() + p.get_width() / 2 - 5) < 1e-9) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["with a spouse control", "no spouse control"]
    text = " ".join(t.get_text() for t in ax.texts)
    assert "6 sets with 5, 1 with fewer, 0 with none" in text
    assert ax.get_ylim()[1] > 2  # the tallest bar (2 sets) fits


def test_set_composition_panels_draw_one_titled_panel_per_data_set():
    def members(n_sets: int, siblings: int) -> pd.DataFrame:
        rows = []
        for case in range(n_sets):
            rows += [{"case_id": case, "role": "case"}] + [{"case_id": case, "role": "population_control"}] * 5
            rows += [{"case_id": case, "role": "sibling"}] * siblings
        return pd.DataFrame(rows)

    fig = plot_set_composition_panels({"this run": members(3, 1), "seed 2": members(4, 0)})
    _width_ok(fig)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["this run", "seed 2"]
    for ax, n in zip(fig.axes, (3, 4), strict=True):
        assert sum(p.get_height() for p in ax.patches) == n  # every set in one bar (no spouse: open bars)
    with pytest.raises(ValueError, match="no data set"):
        plot_set_composition_panels({})


def test_age_sex_by_role_fits_the_page_and_marks_women_open(tmp_path):
    fig = plot_age_sex_by_role(_members())
    _width_ok(fig)
    sex = fig.axes[1]
    open_bars = [p for p in sex.patches if to_hex(p.get_facecolor()) == "#ffffff"]
    assert len(open_bars) == 4 and {to_hex(p.get_edgecolor()) for p in open_bars} == set(ROLE_COLOURS.values())
    assert save_figure(fig, "age_sex", tmp_path).is_file()


def test_prevalence_by_window_one_panel_per_class_in_its_colour():
    prevalence = exposure_prevalence(_table())
    axes = plot_prevalence_by_window(prevalence)
    _width_ok(axes[0].figure)
    assert len(axes) == len(CLASSES)
    for ax, k in zip(axes, CLASSES, strict=True):
        assert to_hex(ax.title.get_color()) == CLASS_COLOURS[k]
        colours = {to_hex(p.get_facecolor()) for p in ax.patches if p.get_height() > 0}
        assert CLASS_COLOURS[k] in colours, "cases drawn in the class colour"
        assert not colours & set(ROLE_COLOURS.values()), "no role colour in a class figure"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ALS cases", "Population controls"]
        assert [t.get_text() for t in ax.get_xticklabels()][0] == "0-1 y"
    # every bar fits under the shared upper limit
    top = max(p.get_height() for ax in axes for p in ax.patches)
    assert axes[0].get_ylim()[1] > top == pytest.approx(prevalence["percent"].max())
    # the crude ratio of hypnotics in the last year (cases 3 of 4) is written above its pair
    hyp = prevalence[(prevalence["drug_class"] == "hypnotics") & (prevalence["window"] == "0_1")]
    ratio = hyp.set_index("role")["percent"]
    assert f"x{ratio['case'] / ratio['population_control']:.1f}" in [t.get_text() for t in axes[1].texts]


def test_prevalence_without_control_users_writes_no_ratio():
    table = _table()
    for k in CLASSES:
        controls = table["role"] != "case"
        table.loc[controls, f"window_{k}"] = "never"
        table.loc[controls, f"{k}_gt1"] = 0
    axes = plot_prevalence_by_window(exposure_prevalence(table))
    assert not [t for ax in axes for t in ax.texts if t.get_text().startswith("x")]


def test_prevalence_by_rule_one_row_per_rule_sharing_the_y_axis():
    table = _table(in_window=True)
    fig = plot_prevalence_by_rule(
        {"study rule": exposure_prevalence(_table(in_window=False)), "use in window": exposure_prevalence(table)}
    )
    _width_ok(fig)
    assert len(fig.axes) == 2 * len(CLASSES)
    assert fig.axes[0].get_ylabel().startswith("study rule") and fig.axes[3].get_ylabel().startswith("use in window")
    assert fig.axes[0].get_ylim() == fig.axes[5].get_ylim()
    assert sum(ax.get_legend() is not None for ax in fig.axes) == 2  # one legend per row
    with pytest.raises(ValueError):
        plot_prevalence_by_rule({})


def test_first_use_timing_panels_fit_and_share_one_legend():
    fig = plot_first_use_timing_panels(_table())
    _width_ok(fig)
    assert len(fig.axes) == len(CLASSES)
    assert fig.axes[0].get_xlim() == (8.0, 0.0)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ALS cases", "Population controls"]


def test_causal_diagram_draws_every_planted_path_and_only_those(tmp_path):
    from dataclasses import replace

    from matplotlib.patches import FancyArrowPatch

    from alsmeds.plots.dag import planted_edges, plot_causal_diagram
    from alsmeds.simulate.parameters import SimulationParameters

    planted = {(e.source, e.target) for e in planted_edges()}
    # The generator's risk mechanism (simulate/population.py, parameters.py), path by path.
    assert planted == {
        ("familial", "spouse_familial"),  # a spouse's U is correlated with the case's
        ("familial", "liability"),  # Psi = r U + sqrt(1 - r^2) Z
        ("familial", "use"),  # per_familial_factor in the latent use of each class
        ("familial", "negative_control"),  # PPI use depends on U ...
        ("familial", "als"),  # ... and so does ALS (log_or_familial_factor)
        ("liability", "psych_history"),
        ("liability", "use"),
        ("propensity", "use"),  # the propensity shared by the classes
        ("psych_history", "als"),
        ("use", "als"),  # the 1-5 and >5 year windows
        ("als", "use"),  # the 0-1 year window: prodromal prescribing
        ("als", "diagnosis"),
        ("covariates", "use"),
        ("covariates", "psych_history"),
        ("covariates", "als"),
        ("covariates", "negative_control"),
    }, "no arrow from the negative control to ALS: its planted effect is 0"
    params = SimulationParameters()
    no_familial = replace(params, risk=replace(params.risk, log_or_familial_factor=0.0))
    assert planted - {(e.source, e.target) for e in planted_edges(no_familial)} == {("familial", "als")}

    ax = plot_causal_diagram()
    _width_ok(ax.figure)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(planted)
    texts = " ".join(t.get_text() for t in ax.texts)
    for word in ("Familial factor U", "Psychiatric liability", "Psychiatric history", "prodrome", "ALS diagnosis"):
        assert word in texts
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "sibling comparison removes" in legend and "lag" in legend
    assert save_figure(ax.figure, "01_causal_diagram", tmp_path).is_file()


def test_exposure_timelines_draw_the_class_dispensings_and_windows_of_the_rules_given():
    """The figure takes the derive layer's class dispensings and rules; it refuses the raw table (no re-derivation)."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Rules:  # the two attributes of derive.exposure.ExposureRules a figure draws
        window_edges_years: tuple[int, int] = (2, 6)
        min_dispensings: int = 3

    table = _table()
    disp = pd.DataFrame(
        {
            "person_id": [0, 0, 0],
            "dispensing_date": pd.to_datetime(["2019-10-01", "2019-12-01", "2020-01-15"]),
            "group": ["hypnotics"] * 3,
        }
    )
    with pytest.raises(ValueError, match="class_dispensings"):
        plot_exposure_timelines(disp.drop(columns="group").assign(atc="N05CD02"), table, [0], rules=Rules())
    ax = plot_exposure_timelines(disp, table, [0], register_start="2012-01-01", rules=Rules())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "first qualifying (dispensing no. 3)" in legend
    ticks = [c for c in ax.collections if c.get_offsets().shape[0] == 3]
    assert ticks, "the three class dispensings are drawn"
    edges = sorted({round(p.get_paths()[0].vertices[:, 0].max(), 6) for p in ax.collections[:3]})
    assert 2.0 in edges and 6.0 in edges, "windows from the rules given, not the default 1 and 5 years"
    ax = plot_lookback(table, register_start="2012-01-01", rules=Rules())
    assert {"0-1 y window", ">5 y window"} <= {t.get_text() for t in ax.get_legend().get_texts()}
