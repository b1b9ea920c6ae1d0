"""The analyses of a study: one function per results file, with declared outputs and needs.

An analysis is a function of an :class:`~alsmeds.analyses.context.AnalysisContext` that
writes its declared output files into ``ctx.results_dir`` and returns their paths.  It is
declared once, with :func:`analysis`, the way OpenSAFELY's ``project.yaml`` declares an
action: its name, the files it writes (``outputs``) and the analyses whose files it reads
(``needs``).  :func:`alsmeds.analyses.run.run_analyses` runs them in dependency order.

To add an analysis: write ``def my_analysis(ctx) -> list[Path]`` in a module of this
package, decorate it with ``@analysis("my_analysis", outputs=(...), needs=(...))``, and
import the module in :mod:`alsmeds.analyses` (``__init__``, in any order); a study
specification then names it in ``analyses`` (default: every analysis runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What an analysis function receives (:class:`alsmeds.analyses.context.AnalysisContext`); not imported here,
#: since the context imports the specification, which checks analysis names against this registry.
AnalysisContext = Any


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
    inputs : callable, optional
        ``inputs(ctx) -> list[Path]``: files it reads beyond the data and the results of its
        needs (e.g. the stored simulation study); their content is part of its resume key.
    """

    name: str
    outputs: tuple[str, ...]
    needs: tuple[str, ...]
    function: Callable[[AnalysisContext], Sequence[Path]]
    description: str
    inputs: Callable[[AnalysisContext], Sequence[Path]] | None = None


#: Every declared analysis, by name, in declaration order.
ANALYSES: dict[str, Analysis] = {}


def analysis(
    name: str,
    outputs: Sequence[str],
    needs: Sequence[str] = (),
    inputs: Callable[[AnalysisContext], Sequence[Path]] | None = None,
) -> Callable:
    """Declare an analysis (a decorator); see the module docstring.

    The order of declaration does not matter: :func:`ordered` sorts the analyses so that
    each runs after those it needs (declaration order among the others).
    """

    def register(function: Callable[[AnalysisContext], Sequence[Path]]) -> Callable:
        if name in ANALYSES:
            raise ValueError(f"analysis {name!r} declared twice")
        doc = (function.__doc__ or "").strip().splitlines()
        ANALYSES[name] = Analysis(name, tuple(outputs), tuple(needs), function, doc[0] if doc else "", inputs)
        return function

    return register


def ordered(analyses: dict[str, Analysis] | None = None) -> list[str]:
    """Every analysis in dependency order (a stable topological sort of the declarations).

    Raises
    ------
    ValueError
        An analysis needs one that is not declared, or the needs form a cycle.
    """
    analyses = ANALYSES if analyses is None else analyses
    for item in analyses.values():
        unknown = [n for n in item.needs if n not in analyses]
        if unknown:
            raise ValueError(f"analysis {item.name!r} needs {unknown}, which no analysis declares")
    done: list[str] = []
    pending = list(analyses)
    while pending:
        ready = [n for n in pending if set(analyses[n].needs) <= set(done)]
        if not ready:
            raise ValueError(f"the needs of {pending} form a cycle")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def with_needs(names: Iterable[str] | None, analyses: dict[str, Analysis] | None = None) -> list[str]:
    """The named analyses and everything they need, in dependency order; None: all."""
    analyses = ANALYSES if analyses is None else analyses
    order = ordered(analyses)
    if names is None:
        return order
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in analyses:
            raise KeyError(f"unknown analysis {name!r}; known: {', '.join(analyses)}")
        if name not in wanted:
            wanted.add(name)
            stack.extend(analyses[name].needs)
    return [name for name in order if name in wanted]


def producer_of(file_name: str) -> Analysis:
    """The analysis that writes a results file."""
    for item in ANALYSES.values():
        if file_name in item.outputs:
            return item
    raise KeyError(f"no analysis writes {file_name!r}")
