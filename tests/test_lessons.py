"""Every notebook is a lesson a teacher can run: the scaffolding of the journal-club kit.

Checked on the notebooks' sources (nothing is executed): a header with aim, what you
will learn, prerequisites and time; exercises and a quiz whose answers are folded away;
references with DOIs; "try this" cells that write only under ``build/try-this/``;
glossary links that land on a glossary entry; nbval's check marked with a cell tag, not
a comment; the import cell folded.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from alsmeds import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
GLOSSARY = paths.NOTEBOOKS_DIR / "glossary.md"
HEADER_FIELDS = ("**Aim", "**You will learn", "**Prerequisites", "**Time")
GLOSSARY_LINK = re.compile(r"\]\(glossary\.md#([a-z0-9-]+)\)")
DOI = re.compile(r"https://doi\.org/10\.\d{4,9}/\S+")


def glossary_anchors(text: str) -> set[str]:
    """Anchors of the glossary's entries: ``<a id="..."></a>`` before each heading."""
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', text))


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _section(nb, heading: str) -> str:
    """The markdown from a ``## heading`` cell to the next ``## `` heading (code cells skipped)."""
    text, inside = [], False
    for source in _markdown(nb):
        for line in source.splitlines():
            if line.startswith("## "):
                inside = line[3:].strip().lower().startswith(heading.lower())
            if inside:
                text.append(line)
    return "\n".join(text)


def test_there_are_notebooks_and_a_glossary():
    assert len(NOTEBOOKS) >= 9
    assert GLOSSARY.is_file()


def test_glossary_entries_have_anchors_and_headings():
    text = GLOSSARY.read_text(encoding="utf-8")
    anchors = re.findall(r'<a id="([a-z0-9-]+)"></a>\n## (.+)', text)
    assert len(anchors) >= 8, "each entry: an anchor line, then its ## heading"
    assert len({a for a, _ in anchors}) == len(anchors), "anchors must be unique"
    assert len(anchors) == len(re.findall(r"^## ", text, re.M)), "every ## entry needs an anchor"


def test_glossary_entries_are_in_alphabetical_order():
    headings = re.findall(r"^## (.+)$", GLOSSARY.read_text(encoding="utf-8"), re.M)
    in_order = sorted(headings, key=str.casefold)
    assert headings == in_order, "glossary headings out of alphabetical order: " + ", ".join(
        f"{h!r} (place {in_order.index(h) + 1})" for i, h in enumerate(headings) if in_order[i] != h
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_states_aim_learning_prerequisites_and_time(path):
    nb = _read(path)
    header = nb.cells[0]
    assert header.cell_type == "markdown" and header.source.startswith(f"# {path.stem[:2]} ")
    missing = [f for f in HEADER_FIELDS if f not in header.source]
    assert not missing, f"header lacks {missing}"
    assert re.search(r"\*\*Time[^\n]*\d+\s*min", header.source), "time as minutes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_and_quiz_have_folded_answers(path):
    nb = _read(path)
    exercises = _section(nb, "Exercises")
    assert exercises, "an '## Exercises' section"
    assert exercises.count("<details>") >= 2 and exercises.count("<details>") == exercises.count("</details>")
    quiz = _section(nb, "Quiz")
    questions = re.findall(r"^\d+\. ", quiz, re.M)
    assert 3 <= len(questions) <= 5, f"a quiz of three or four questions, found {len(questions)}"
    assert quiz.count("<details>") >= len(questions), "every quiz answer folded in <details>"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_references_carry_dois(path):
    references = _section(_read(path), "References")
    assert len(set(DOI.findall(references))) >= 2, "a '## References' section with DOIs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_try_this_cells_write_only_into_build(path):
    cells = [c for c in _read(path).cells if c.cell_type == "code" and "try-this" in c.metadata.get("tags", [])]
    assert cells, "at least one code cell tagged try-this"
    for cell in cells:
        assert "try_this_dir(" in cell.source or not re.search(r"save_figure|write_estimates|to_csv", cell.source)
        assert not re.search(r"\b(results_dir|figures_dir)\b", cell.source), "try-this cells never write results/"
        assert "nbval-check-output" not in cell.metadata.get("tags", []), "a playground's output is not checked"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glossary_links_land_on_entries(path):
    anchors = glossary_anchors(GLOSSARY.read_text(encoding="utf-8"))
    links = [a for source in _markdown(_read(path)) for a in GLOSSARY_LINK.findall(source)]
    assert links, "link the glossary at least once"
    assert set(links) <= anchors, f"no glossary entry for {sorted(set(links) - anchors)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checks_are_tags_and_imports_are_folded(path):
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [c for c in code if "NBVAL_CHECK_OUTPUT" in c.source], "use the nbval-check-output tag"
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in code)
    imports = next(c for c in code if "parameters" not in c.metadata.get("tags", []))
    assert re.search(r"^(from|import) ", imports.source, re.M)
    assert imports.metadata.get("jupyter", {}).get("source_hidden") is True, "fold the import cell"
