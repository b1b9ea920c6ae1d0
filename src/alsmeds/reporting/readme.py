"""The README's generated sections: the reproduction table and the figure gallery.

The README holds blocks between ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->`` that are written from the committed results and figures,
never by hand: :func:`generated_sections` builds their text and :func:`replace_sections`
puts it into the README text (both pure; ``alsmeds readme`` writes the file, and
``tests/test_readme.py`` fails when the committed README is out of date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds.reporting.reproduction import scorecard

#: Block markers.
BEGIN = "<!-- BEGIN generated: {name} -->"
END = "<!-- END generated: {name} -->"


def short_title(title: str) -> str:
    """A notebook's title before its question: ``"01 · The cohort: who?"`` -> ``"01 · The cohort"``."""
    return title.split(":", 1)[0].strip()


def _number(value: float, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return ""
    if float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _with_interval(value: float, lower: float, upper: float) -> str:
    text = _number(value)
    if text and np.isfinite(lower) and np.isfinite(upper):
        text += f" ({_number(lower)}-{_number(upper)})"
    return text


def _covered(value: object) -> str:
    """``yes``/``no`` for whether our CI covers the published value; empty when not applicable."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return "yes" if bool(value) else "no"


def scorecard_markdown(card: pd.DataFrame) -> str:
    """The scorecard as a Markdown table (target, published, planted, ours, published in our CI, status).

    ``published in our 95% CI`` is shown beside the status because the status rule of a ratio
    (combined SE, :mod:`alsmeds.reporting.reproduction`) is looser than "our interval covers the
    published value"; the design counts and descriptives of synthetic data have the status
    *calibrated input* (generator inputs or calibration targets, not findings).
    """
    lines = [
        "| target | published (95% CI) | planted | this bundle (95% CI) | published in our 95% CI | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in card.itertuples():
        lines.append(
            f"| {r.description} | {_with_interval(r.published, r.published_lower, r.published_upper)} | "
            f"{_number(r.planted)} | {_with_interval(r.estimate, r.ci_lower, r.ci_upper)} | "
            f"{_covered(r.published_in_ci)} | {r.status} |"
        )
    return "\n".join(lines)


def gallery_markdown(figures: list[str], titles: Mapping[str, str] | None = None) -> str:
    """Every figure, grouped by notebook, three to a row (paths relative to the README).

    ``titles`` maps a notebook's two-digit prefix to its title (the notebooks' own headings,
    :func:`alsmeds.pipeline.readme.notebook_titles`); a prefix without one shows as itself.
    """
    titles = titles or {}
    by_notebook: dict[str, list[str]] = {}
    for name in sorted(figures):
        by_notebook.setdefault(Path(name).name[:2], []).append(name)
    lines = []
    for prefix, names in by_notebook.items():
        lines.append(f"**{short_title(titles.get(prefix, prefix))}**")
        lines.append("")
        lines.append("| | | |")
        lines.append("|---|---|---|")
        for i in range(0, len(names), 3):
            cells = [
                f'<img src="{n}" width="260" alt="{Path(n).stem[3:].replace("_", " ")}">' for n in names[i : i + 3]
            ]
            lines.append("| " + " | ".join(cells + [""] * (3 - len(cells))) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def paper_map_markdown(mapping: pd.DataFrame, published: pd.DataFrame, titles: Mapping[str, str] | None = None) -> str:
    """The map from the paper to the bundle as a Markdown table: each published target, where it is reproduced.

    Parameters
    ----------
    mapping : DataFrame
        :func:`alsmeds.published.paper_map`.
    published : DataFrame
        :func:`alsmeds.published.published_values` (for the descriptions and values).
    titles : mapping, optional
        Notebook prefix -> title, as for :func:`gallery_markdown`.
    """
    titles = titles or {}
    described = published.set_index("target")
    lines = [
        "| published target | value | notebook, section | results file: selection | figure |",
        "|---|---|---|---|---|",
    ]
    for r in mapping.itertuples():
        p = described.loc[r.target]
        value = _with_interval(p["published"], p["published_lower"], p["published_upper"]) or "(finding)"
        title = short_title(titles.get(r.notebook[:2], r.notebook))
        lines.append(
            f"| {p['description']} | {value} | [{title}](notebooks/{r.notebook}.ipynb), *{r.section}* | "
            f"`results/{r.results.split(':')[0]}`:{r.results.split(':', 1)[1] if ':' in r.results else ''} | "
            f"[{r.figure}](figures/{r.figure}) |"
        )
    return "\n".join(lines)


def generated_sections(
    results_dir: Path,
    figures_dir: Path,
    truth: Mapping | None,
    root: Path,
    titles: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The text of every generated block, from a results folder, a figures folder and the notebooks' titles."""
    from alsmeds.published import paper_map, published_values

    card = scorecard(results_dir, truth)
    figures = [p.relative_to(root).as_posix() for p in sorted(Path(figures_dir).glob("*.png"))]
    return {
        "reproduction-table": scorecard_markdown(card),
        "figure-gallery": gallery_markdown(figures, titles),
        "paper-map": paper_map_markdown(paper_map(), published_values(), titles),
    }


def replace_sections(text: str, sections: Mapping[str, str]) -> str:
    """The README text with each generated block replaced.

    Raises
    ------
    ValueError
        When a block's markers are missing or appear more than once.
    """
    for name, body in sections.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.S)
        if len(pattern.findall(text)) != 1:
            raise ValueError(f"README: expected one block {begin} ... {end}")
        text = pattern.sub(lambda _m, b=begin, e=end, body=body: f"{b}\n{body}\n{e}", text)
    return text
