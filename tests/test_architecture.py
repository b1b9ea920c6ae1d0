"""The package's layers: imports point one way (docs/architecture.md).

Data flow one way, raw tables -> validated -> derived frames -> fits -> results ->
figures and report, and so do imports: a module may import from its own layer and from
the layers below it, never from a layer above.  This test reads every module's imports
(also those inside functions) and names each import that points up.
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
    "data": 1,  # contract, reading, problems, validation, atomic writing
    "derive": 2,  # each study definition once: exposure, cohort, follow-up, analysis frames
    "models": 3,  # one module per model family; take frames, return results
    "reference": 4,  # R oracles of the models
    "simulate": 4,  # the generator and its estimands (fits the models on the truth)
    "reporting": 5,  # tables, results schemas and files
    "plots": 6,  # figures from results and frames
    "study": 7,  # the public face: Study
    "pipeline": 8,  # runner, command line, build caches
    "simstudy": 8,  # simulation study: replicates, performance measures, its command line
    "__main__": 9,
    "__init__": 9,
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


def test_the_checker_finds_an_upward_import(tmp_path: Path):
    """The test above can fail: a derive module importing a model, relatively or not, is caught."""
    fake = tmp_path / "alsmeds" / "derive" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..models.clogit import fit_clogit\n\ndef f():\n    from alsmeds.plots import palette\n")
    targets = [t for _, t in _imports(fake, tmp_path / "alsmeds")]
    assert targets == ["alsmeds.models.clogit", "alsmeds.plots"]
    assert all(LAYERS[_layer_of_module(t)] > LAYERS["derive"] for t in targets)
