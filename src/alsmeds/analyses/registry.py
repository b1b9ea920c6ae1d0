"""The analyses of a study: one function per results file, with declared outputs and needs.

An analysis is a function of an :class:`~alsmeds.analyses.context.AnalysisContext` that
writes its declared output files into ``ctx.results_dir`` and returns their paths.  It is
declared once, with :func:`analysis`, the way OpenSAFELY's ``project.yaml`` declares an
action: its name, the files it writes (``outputs``) and the analyses whose files it reads
(``needs``).  :func:`alsmeds.analyses.run.run_analyses` runs them in dependency order.

To add an analysis: write ``def my_analysis(ctx) -> list[Path]`` in a module of this
package, decorate it with ``@analysis("my_analysis", outputs=(...), needs=(...))``, and
import the module in :mod:`alsmeds.analyses` (``__init__``); a study specification then
names it in ``analyses`` (default: every analysis runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alsmeds.analyses.context import AnalysisContext


@dataclass(frozen=True)
class Analysis:
    """One declared analysis.

    Attributes
    ----------
    name : str
        Its name in a specification's ``analyses`` and on the command line.
    outputs : tuple of str
        File names it writes in the results folder (all of them, every time).
    needs : tuple of str
        Analyses whose outputs it reads.
    function : callable
        ``function(ctx) -> list[Path]``.
    description : str
        One line, from the function's docstring.
    """

    name: str
    outputs: tuple[str, ...]
    needs: tuple[str, ...]
    function: Callable[[AnalysisContext], Sequence[Path]]
    description: str


#: Every declared analysis, by name, in declaration order.
ANALYSES: dict[str, Analysis] = {}


def analysis(name: str, outputs: Sequence[str], needs: Sequence[str] = ()) -> Callable:
    """Declare an analysis (a decorator); see the module docstring."""

    def register(function: Callable[[AnalysisContext], Sequence[Path]]) -> Callable:
        if name in ANALYSES:
            raise ValueError(f"analysis {name!r} declared twice")
        unknown = [n for n in needs if n not in ANALYSES]
        if unknown:  # declaration order is a topological order
            raise ValueError(f"analysis {name!r} needs {unknown}, which must be declared before it")
        doc = (function.__doc__ or "").strip().splitlines()
        ANALYSES[name] = Analysis(name, tuple(outputs), tuple(needs), function, doc[0] if doc else "")
        return function

    return register


def with_needs(names: Iterable[str] | None) -> list[str]:
    """The named analyses and everything they need, in dependency (declaration) order; None: all."""
    if names is None:
        return list(ANALYSES)
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in ANALYSES:
            raise KeyError(f"unknown analysis {name!r}; known: {', '.join(ANALYSES)}")
        if name not in wanted:
            wanted.add(name)
            stack.extend(ANALYSES[name].needs)
    return [name for name in ANALYSES if name in wanted]


def producer_of(file_name: str) -> Analysis:
    """The analysis that writes a results file."""
    for item in ANALYSES.values():
        if file_name in item.outputs:
            return item
    raise KeyError(f"no analysis writes {file_name!r}")
