"""The package's layers: imports point one way (docs/architecture.md).

Data flow one way, raw tables -> validated -> derived frames -> fits -> results ->
figures and report, and so do imports: a module may import from its own layer and from
the layers below it, never from a layer above.  This test reads every module's imports
(also those inside functions) and names each import that points up.

Some downward flows are forbidden too (:data:`FORBIDDEN_FLOWS`): figures draw results and
never fit a model or re-derive a study frame (plots -> models, plots -> derive), the
generator does not fit the analysis models, reporting does not re-run a definition.  The
exceptions of today are listed one by one in :data:`ALLOWED_EXCEPTIONS` (issue 23: to
remove), so that no new one can appear.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "alsmeds"

#: Layer of each top-level module or subpackage, lowest first.  A module may import from
#: layers of the same or a lower rank.
LAYERS = {
    # foundation: constants, paths, numeric precision, published values
    "constants": 0,
    "paths": 0,
    "precision": 0,
    "published": 0,
    "labels": 0,  # readable names of codes, for tables and figures
    "formatting": 0,  # how a number is printed for people (no negative zero)
    "fingerprint": 0,  # code and data fingerprints that key build artefacts
    "truth": 0,  # the planted truth (truth.json) read once, and the one comparison of an estimate with it
    "data": 1,  # contract, reading, problems, validation, atomic writing
    "derive": 2,  # each study definition once: exposure, cohort, follow-up, analysis frames
    "models": 3,  # one module per model family; take frames, return results
    "reference": 4,  # R oracles of the models
    "simulate": 4,  # the generator: plants the truth, fits no model
    "estimands": 5,  # implied estimands: the models fitted to large samples of the generator (cached)
    "reporting": 6,  # tables, results schemas and files
    "plots": 7,  # figures from results and frames
    "study": 8,  # the public face: Study
    "analyses": 9,  # the study specification and one function per results file, run in dependency order
    "simstudy": 10,  # simulation study: replicates, performance measures, its command line
    "pipeline": 11,  # runner, command line (which also dispatches `alsmeds simstudy`), build caches
    "__main__": 12,
    "__init__": 12,
}


def _layer_of_module(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    module_parts = ["alsmeds", *path.relative_to(package).with_suffix("").parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts[: len(module_parts) - node.level]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "alsmeds":
                found += [(node.lineno, f"alsmeds.{alias.name}") for alias in node.names]
            elif target.startswith("alsmeds."):
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("alsmeds.")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_has_a_layer():
    top = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert top <= set(LAYERS), f"modules without a layer: {sorted(top - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    rank = LAYERS[own]
    upward = [
        f"line {line}: {target} ({_layer_of_module(target)} is above {own})"
        for line, target in _imports(path)
        if LAYERS.get(_layer_of_module(target), -1) > rank and _layer_of_module(target) not in ("__init__",)
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} imports upward:\n" + "\n".join(upward)


#: (importing layer, imported layer) pairs that are forbidden although they point down.
FORBIDDEN_FLOWS = {
    ("plots", "models"): "figures draw results; the caller fits the model and passes the result",
    ("plots", "derive"): "figures draw frames; the caller derives them and passes them in",
    ("simulate", "models"): "the generator plants the truth; it does not fit the analysis models",
    ("reporting", "derive"): "reporting writes and shows results of frames it is given; it re-runs no definition",
}

#: Today's forbidden flows, one (module, imported module) pair each: issue 23: to remove.  A pair not listed
#: here fails; a pair listed here that no longer occurs fails too, so the list only shrinks.
ALLOWED_EXCEPTIONS = {}


def forbidden_imports(
    graph: dict[str, list[tuple[int, str]]],
    allowed: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """The imports of ``graph`` that follow a forbidden flow and are not allowed exceptions.

    Parameters
    ----------
    graph : dict of str to list of (int, str)
        Module path relative to the package (``plots/survival.py``) -> its imports
        (line, dotted module), as :func:`_imports` reads them.
    allowed : dict, optional
        (module path, imported module) pairs let through (default: :data:`ALLOWED_EXCEPTIONS`).

    Returns
    -------
    list of str
        One line per offending import.
    """
    allowed = ALLOWED_EXCEPTIONS if allowed is None else allowed
    found = []
    for module, imports in graph.items():
        own = module.split("/")[0].removesuffix(".py")
        for line, target in imports:
            flow = (own, _layer_of_module(target))
            if flow in FORBIDDEN_FLOWS and (module, target) not in allowed:
                found.append(f"{module} line {line}: {target} ({flow[0]} -> {flow[1]}: {FORBIDDEN_FLOWS[flow]})")
    return found


def _package_graph() -> dict[str, list[tuple[int, str]]]:
    return {p.relative_to(PACKAGE).as_posix(): _imports(p) for p in MODULES}


def test_no_forbidden_flow_beyond_the_listed_exceptions():
    found = forbidden_imports(_package_graph())
    assert not found, "forbidden imports (docs/architecture.md):\n" + "\n".join(found)


def test_every_listed_exception_still_occurs():
    """An exception that was removed leaves the list, so it cannot come back unnoticed."""
    graph = _package_graph()
    present = {(m, t) for m, imports in graph.items() for _, t in imports}
    stale = sorted(set(ALLOWED_EXCEPTIONS) - present)
    assert not stale, f"remove these from ALLOWED_EXCEPTIONS, they no longer occur: {stale}"


def test_figures_import_neither_models_nor_derive():
    """The rule of issue 23 without exceptions: plots draw results, they fit nothing."""
    graph = _package_graph()
    plots = {m: i for m, i in graph.items() if m.startswith("plots/")}
    assert forbidden_imports(plots, allowed={}) == []


def test_the_generator_imports_no_model():
    """The rule of issue 23 without exceptions: simulate plants the truth; the estimands layer fits the models."""
    graph = _package_graph()
    simulate = {m: i for m, i in graph.items() if m.startswith("simulate/")}
    assert forbidden_imports(simulate, allowed={}) == []


def test_the_checker_finds_a_forbidden_downward_import(tmp_path: Path):
    """A figure that fits a model or re-derives a frame is caught, relatively or not, at top level or in a function."""
    fake = tmp_path / "alsmeds" / "plots" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "from ..models.km import km_by_use\n\ndef f():\n    from alsmeds.derive.exposure import class_dispensings\n"
        "    from alsmeds.reporting import display\n    from alsmeds import labels\n"
    )
    graph = {"plots/fake.py": _imports(fake, tmp_path / "alsmeds")}
    found = forbidden_imports(graph)
    assert len(found) == 2
    assert found[0].startswith("plots/fake.py line 1: alsmeds.models.km (plots -> models")
    assert found[1].startswith("plots/fake.py line 4: alsmeds.derive.exposure (plots -> derive")
    # a synthetic graph: a new exception fails, a listed one passes, an allowed flow is not flagged
    synthetic = {
        "simulate/new.py": [(3, "alsmeds.models.cox")],
        "simulate/truth.py": [(40, "alsmeds.models.clogit")],
        "reporting/new.py": [(5, "alsmeds.derive.followup"), (6, "alsmeds.models.base")],
        "models/new.py": [(7, "alsmeds.derive.exposure")],
    }
    listed = {("simulate/truth.py", "alsmeds.models.clogit"): "an exception listed for this example"}
    assert forbidden_imports(synthetic, allowed=listed) == [
        "simulate/new.py line 3: alsmeds.models.cox (simulate -> models: "
        + FORBIDDEN_FLOWS["simulate", "models"]
        + ")",
        "reporting/new.py line 5: alsmeds.derive.followup (reporting -> derive: "
        + FORBIDDEN_FLOWS["reporting", "derive"]
        + ")",
    ]


def test_the_checker_finds_an_upward_import(tmp_path: Path):
    """The test above can fail: a derive module importing a model, relatively or not, is caught."""
    fake = tmp_path / "alsmeds" / "derive" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..models.clogit import fit_clogit\n\ndef f():\n    from alsmeds.plots import palette\n")
    targets = [t for _, t in _imports(fake, tmp_path / "alsmeds")]
    assert targets == ["alsmeds.models.clogit", "alsmeds.plots"]
    assert all(LAYERS[_layer_of_module(t)] > LAYERS["derive"] for t in targets)


def sideways_imports(graph: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Imports between two different subpackages of the same layer (the foundation's modules may import each other).

    Two subpackages of one rank are siblings (``reference`` and ``simulate``): neither may
    lean on the other, or the layer is not one layer.
    """
    found = []
    for module, imports in graph.items():
        own = module.split("/")[0].removesuffix(".py")
        for line, target in imports:
            other = _layer_of_module(target)
            same_rank = other in LAYERS and own in LAYERS and LAYERS[other] == LAYERS[own] and LAYERS[own] > 0
            if same_rank and other != own:
                found.append(f"{module} line {line}: {target} ({own} and {other} are one layer)")
    return found


def test_no_sideways_import_within_a_layer():
    graph = {str(p.relative_to(PACKAGE)): _imports(p) for p in MODULES}
    assert sideways_imports(graph) == []


def test_the_checker_finds_a_sideways_import():
    planted = {"simulate/fake.py": [(3, "alsmeds.reference.r")], "data/ok.py": [(1, "alsmeds.data.schema")]}
    assert sideways_imports(planted) == [
        "simulate/fake.py line 3: alsmeds.reference.r (simulate and reference are one layer)"
    ]
