"""The notebooks load, show and explain: how much code they hold, and that they write no results file.

Issue 23 moved the analysis out of the notebooks into the analyses layer
(:mod:`alsmeds.analyses`).  Two guards keep it there:

* **code budget**: the notebooks' non-trivial code lines, counted as logical Python lines
  (one per statement, however many physical lines it spans; ``tokenize`` NEWLINE tokens)
  that are not imports, bare names (a frame shown by naming it), ``display(...)`` calls or
  IPython magics, are at most half of the 928 the issue counted before the move;
* **no results writes**: no code cell calls a writer of results files or writes into the
  results folder (figures and "try this" side files into ``build/try-this/`` are fine).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from alsmeds import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
#: Non-trivial code lines of the nine notebooks before the analyses layer (issue 23), and the budget: half.
LINES_BEFORE = 928
BUDGET = LINES_BEFORE // 2
#: Calls that write a results file; a notebook never makes them.
RESULTS_WRITERS = re.compile(
    r"\b(write_estimates|write_json_atomic|write_csv_atomic|write_text_atomic|write_table1|write_followup|"
    r"write_summary)\s*\("
)


def logical_lines(source: str) -> list[str]:
    """The logical lines of a code cell's source (magics and shell escapes dropped), tokens joined by spaces."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    lines, current = [], []
    for token in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
        if token.type == tokenize.NEWLINE:
            lines.append(" ".join(current))
            current = []
        elif token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            current.append(token.string)
    return lines


def is_trivial(line: str) -> bool:
    """An import, a bare (dotted) name, or a ``display(...)`` call."""
    line = line.strip()
    return (
        not line
        or line.startswith(("import ", "from "))
        or re.fullmatch(r"[A-Za-z_][\w.]*", line.replace(" ", "")) is not None
        or line.startswith("display (")
    )


def code_lines(path: Path) -> int:
    """Non-trivial logical code lines of one notebook."""
    nb = nbformat.read(path, as_version=4)
    return sum(
        not is_trivial(line) for cell in nb.cells if cell.cell_type == "code" for line in logical_lines(cell.source)
    )


def test_the_counting_rule():
    source = (
        "import numpy as np\nx = f(1,\n      2)  # one statement\ntable\ndisplay(t)\n%matplotlib inline\n"
        "for i in x:\n    g(i)\n"
    )
    assert logical_lines(source) == [
        "import numpy as np",
        "x = f ( 1 , 2 )",
        "table",
        "display ( t )",
        "for i in x :",
        "g ( i )",
    ]
    assert [is_trivial(line) for line in logical_lines(source)] == [True, False, True, True, False, False]


def test_the_notebooks_hold_at_most_half_the_code_they_held():
    counts = {path.name: code_lines(path) for path in NOTEBOOKS}
    assert sum(counts.values()) <= BUDGET, f"{sum(counts.values())} non-trivial code lines > {BUDGET}: {counts}"


def results_writes(source: str) -> list[str]:
    """The statements of a code cell that write a file other than a "try this" side file.

    A writer call is allowed only when its target lies in ``paths.try_this_dir(...)``: named
    in the statement, or through a name the cell assigned from it.
    """
    lines = logical_lines(source)
    side_folders = {m.group(1) for line in lines if (m := re.match(r"(\w+) = paths \. try_this_dir \(", line))}
    found = []
    for line in lines:
        if RESULTS_WRITERS.search(line.replace(" (", "(")):
            target = line.split("(", 1)[1]
            if "try_this_dir" not in target and not any(re.match(rf"\s*{name}\b", target) for name in side_folders):
                found.append(line)
    return found


def test_the_write_check():
    assert results_writes("write_estimates(frame, results_dir, 'x', {})") == [
        "write_estimates ( frame , results_dir , 'x' , { } )"
    ]
    assert results_writes("out = paths.try_this_dir('07')\nwrite_csv_atomic(out / 'a.csv', side)") == []
    assert results_writes("write_csv_atomic(paths.try_this_dir('08') / 'b.csv', side)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_writes_no_results_file(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert results_writes(cell.source) == [], f"{path.name} writes results:\n{cell.source[:300]}"
        assert not re.search(r"results_dir\s*/", cell.source), f"{path.name} builds a path in the results folder"
