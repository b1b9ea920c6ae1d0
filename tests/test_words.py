"""Words are checked like numbers: what the notebooks' narrative may state (issue 22).

* A number of the committed draw is never typed in Markdown: it is rendered from results in
  a code cell.  Every decimal number in a Markdown cell must be a published value
  (``published_values.csv``), a planted parameter of the generator (``truth.json``'s
  ``parameters``, or its exponential: a planted odds or hazard ratio), or a constant of
  method or design listed below with its reason.
* What the paper "does not say" can be known only of the sources available to us (the
  abstract and secondary reports): the narrative says so.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest

from alsmeds.paths import NOTEBOOKS_DIR, ROOT, SYNTHETIC_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
TEXTS = [*NOTEBOOKS, NOTEBOOKS_DIR / "glossary.md", ROOT / "README.md"]

#: Constants of method, arithmetic worked in the text, or design facts from dates: never a number of the draw.
METHOD_CONSTANTS = {
    1.96: "normal 97.5% quantile",
    2.8: "1.96 + 0.84, the 80%-power multiplier of a minimal detectable effect",
    30.44: "days per month (365.25 / 12)",
    365.25: "days per year",
    4.5: "years of look-back from 2005-07-01 to a diagnosis in January 2015 beyond the 5-year window (dates)",
    9.5: "years of look-back from 2005-07-01 to January 2015 (dates)",
    0.05: "significance level / a share in a worked example",
    0.95: "nominal coverage",
    0.001: "p-value threshold",
    0.005: "target Monte Carlo SE of a coverage in a worked example",
    0.0069: "Monte Carlo SE of a 95% coverage over 1,000 replicates, worked in the text",
    0.7: "target Monte Carlo SE of a 95% coverage, percentage points (the simulation study's plan)",
    0.007: "the same target as a share",
    0.34: "1.34 - 1, the E-value formula worked in the text",
    2.01: "E-value of 1.34, worked in the text",
    -0.08: "a hypothetical alpha in a quiz question",
    0.27: "normal share beyond 3 SD (0.27%)",
    4.6: "normal share beyond 2 SD (4.6%)",
    0.8: "typical registry decline, points/month (PRO-ACT)",
    0.99: "PRO-ACT's mean decline, points/month",
    1.0: "a ratio of one",
    0.5: "half a day / one half",
    0.25: "OHDSI's threshold of the expected absolute systematic error (calibration.ease_threshold)",
    47.5: "the ALSFRS-R ceiling's censoring point: 48 less half a point of rounding",
}

_DECIMAL = re.compile(r"(?<![\w.$/-])-?\d+\.\d+(?![\w.])")
_LINKS = re.compile(r"https?://\S+|doi:\S+|\]\([^)]*\)")
_CITATION = re.compile(r"\b(?:19|20)\d\d;\s*\d+(?:\(\d+(?:-\d+)?\))?(?::\s*[\w.-]+)?")


def _published() -> set[float]:
    values: set[float] = set()
    with open(ROOT / "src" / "alsmeds" / "published_values.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key in ("published", "published_lower", "published_upper"):
                if row[key]:
                    values.add(float(row[key]))
    return values


def _planted() -> set[float]:
    values: set[float] = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            for decimals in range(5):
                values.add(round(float(x), decimals))
                if abs(x) < 50:
                    values.add(round(math.exp(x), decimals))

    walk(json.loads((SYNTHETIC_DIR / "truth.json").read_text(encoding="utf-8"))["parameters"])
    return values


def _markdown(path: Path) -> list[tuple[int, str]]:
    if path.suffix == ".md":
        return [(0, path.read_text(encoding="utf-8"))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_number_of_the_committed_draw_is_typed_in_markdown(notebook):
    allowed = _published() | _planted() | set(METHOD_CONSTANTS)
    typed = []
    for index, text in _markdown(notebook):
        text = _CITATION.sub(" ", _LINKS.sub(" ", text))
        for match in _DECIMAL.finditer(text):
            value = float(match.group())
            if abs(value) in allowed or value in allowed:
                continue
            context = text[max(0, match.start() - 60) : match.end() + 20].replace("\n", " ")
            typed.append(f"cell {index}: {match.group()} in '...{context}...'")
    assert not typed, "numbers typed in Markdown (render them from results in a code cell):\n" + "\n".join(typed)


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.name)
def test_what_the_paper_does_not_say_is_said_of_our_sources(path):
    phrase = re.compile(r"the (?:paper|authors?|study) (?:does|do|did) not (?:say|publish|give|report|state)", re.I)
    found = [m.group() for _, text in _markdown(path) for m in phrase.finditer(text)]
    assert not found, f"{path.name}: write 'the sources available to us do not say' instead of {found}"


CLAIMS_DIR = ROOT / "docs" / "claims"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_lists_its_claims_with_evidence(notebook):
    """docs/claims/<notebook>.md: a Markdown table whose every row has a claim and its evidence."""
    path = CLAIMS_DIR / f"{notebook.stem}.md"
    assert path.is_file(), f"no claims file {path.relative_to(ROOT)}"
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    body = [r for r in rows[2:] if not set(r) <= set("|-: ")]
    assert len(body) >= 5, f"{path.name}: fewer than five claims listed"
    for row in body:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) >= 2 and cells[0] and cells[-1], f"{path.name}: a claim without evidence: {row}"
    assert notebook.stem in (CLAIMS_DIR / "README.md").read_text(encoding="utf-8")
