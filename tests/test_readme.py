"""The README's generated blocks are what the committed results and figures say (no hand-typed numbers)."""

from __future__ import annotations

import pytest

from alsmeds import paths
from alsmeds.pipeline.readme import readme_text
from alsmeds.reporting.readme import gallery_markdown, replace_sections


def test_committed_readme_is_up_to_date():
    committed = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_text() == committed, "README.md is out of date: run `python -m alsmeds.pipeline.readme`"


def test_every_committed_figure_is_in_the_gallery():
    committed = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    for figure in sorted(paths.COMMITTED_FIGURES_DIR.glob("*.png")):
        assert f'src="figures/{figure.name}"' in committed


def test_replace_sections():
    text = "a\n<!-- BEGIN generated: x -->\nold\n<!-- END generated: x -->\nb"
    assert replace_sections(text, {"x": "new"}) == "a\n<!-- BEGIN generated: x -->\nnew\n<!-- END generated: x -->\nb"
    with pytest.raises(ValueError, match="expected one block"):
        replace_sections("no markers", {"x": "new"})
    with pytest.raises(ValueError, match="expected one block"):
        replace_sections(text + text, {"x": "new"})


def test_gallery_groups_by_notebook():
    titles = {"01": "01 · The cohort: who?", "07": "07 · The joint model: why?"}
    text = gallery_markdown(["figures/01_a.png", "figures/01_b.png", "figures/07_c.png"], titles)
    assert text.index("**01 · The cohort**") < text.index('src="figures/01_a.png"') < text.index("07 ·")
    assert text.index("07 · The joint model") < text.index("07_c.png") and "why?" not in text


def test_notebook_titles_come_from_the_notebooks_own_headings():
    from alsmeds.pipeline.readme import notebook_titles

    titles = notebook_titles()
    assert sorted(titles) == [p.name[:2] for p in sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))]
    assert all(title.startswith(f"{prefix} · ") for prefix, title in titles.items())


def test_scorecard_table_separates_inputs_and_shows_whether_our_ci_covers_the_published_value():
    import json

    from alsmeds.reporting.readme import scorecard_markdown
    from alsmeds.reporting.reproduction import scorecard

    truth = json.loads((paths.SYNTHETIC_DIR / "truth.json").read_text(encoding="utf-8"))
    lines = scorecard_markdown(scorecard(paths.COMMITTED_RESULTS_DIR, truth)).splitlines()
    assert "published in our 95% CI" in lines[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["ALS cases diagnosed 2015-01-01 to 2023-07-01"].endswith("|  | calibrated input |")
    assert sum(line.endswith("| reproduced |") for line in lines) <= 9  # only the nine published ratios
    anx_1_5 = next(line for line in lines if line.startswith("| anxiolytics, 1-5 years"))
    assert anx_1_5.endswith("| no | reproduced |")  # reproduced by the combined-SE rule, outside our CI


def test_the_paper_map_points_at_what_exists():
    """Every published target is mapped once, to a notebook section, a results selection and a figure that exist."""
    import json

    import nbformat
    import pandas as pd

    from alsmeds import paths
    from alsmeds.published import paper_map, published_values

    mapping = paper_map()
    assert sorted(mapping["target"]) == sorted(published_values()["target"])
    assert not mapping["target"].duplicated().any()
    for r in mapping.itertuples():
        notebook = paths.NOTEBOOKS_DIR / f"{r.notebook}.ipynb"
        headings = {
            line[3:].strip()
            for cell in nbformat.read(notebook, as_version=4).cells
            if cell.cell_type == "markdown"
            for line in cell.source.splitlines()
            if line.startswith("## ")
        }
        assert r.section in headings, (r.target, r.section)
        assert (paths.COMMITTED_FIGURES_DIR / r.figure).is_file(), r.figure
        for part in r.results.split(";"):
            name, _, selection = part.strip().partition(":")
            path = paths.COMMITTED_RESULTS_DIR / name.strip()
            assert path.is_file(), (r.target, name)
            pairs = [p.strip().split(" ")[0] for p in selection.split(",") if "=" in p]
            if path.suffix == ".csv" and any(p.startswith("term=") for p in pairs):
                frame = pd.read_csv(path)
                keep = pd.Series(True, index=frame.index)
                for pair in pairs:
                    column, value = pair.split("=", 1)
                    keep &= frame[column].astype(str) == value
                assert keep.sum() == 1, (r.target, selection)
            if path.suffix == ".json" and selection.strip().startswith("followup."):
                node = json.loads(path.read_text(encoding="utf-8"))
                for key in selection.strip().split(" ")[0].split("."):
                    node = node[key]
