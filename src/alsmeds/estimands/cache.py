"""A cache on disk for computed estimands: one JSON file per inputs and code version, under ``build/cache/``.

An implied estimand (:mod:`alsmeds.estimands.implied`) is a deterministic function of
its inputs (planted parameters, seed, size of the truth sample) and of the code that
simulates the truth sample and fits the models to it.  Computing it takes about half a
minute, so its value is kept in ``build/cache/<name>/<key>.json`` (a build artefact, never
committed), where ``key`` hashes the inputs and the code version (:func:`code_version`):
any change of an input, of a module the computation imports, or of a numerical library
gives another key, and the value is computed again.  A file that cannot be read is
computed again; a cache that cannot be written only warns.

The value is stored and returned as plain JSON with the bundle's rounding
(:func:`alsmeds.data.write.json_text`: sorted keys, floats to 8 significant digits), so a
value read from the cache is identical to a freshly computed one.

This is the estimands layer's own helper: the pipeline's build caches
(:mod:`alsmeds.pipeline.cache`) are in a layer above, which the estimands do not import.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import alsmeds
from alsmeds import paths
from alsmeds.data.write import json_text, write_json_atomic

#: Where the estimands' caches are kept: ``build/cache/<name>/``.
CACHE_ROOT = paths.BUILD_DIR / "cache"
#: Numerical libraries whose versions are part of the code version (their last digits can differ).
LIBRARIES = ("numpy", "scipy", "pandas", "statsmodels", "lifelines")
#: Package data files of a module's folder that are part of the code version (code lists, published values).
DATA_SUFFIXES = (".csv",)

_PACKAGE_DIR = Path(alsmeds.__file__).resolve().parent


def _module_file(dotted: str, package_dir: Path) -> Path | None:
    parts = dotted.split(".")
    if parts[0] != "alsmeds":
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (imported for type hints only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
            else:
                todo.append(child)


def _imported_modules(path: Path, package_dir: Path) -> set[str]:
    """The ``alsmeds`` modules a source file imports (at top level or in a function), by name.

    The package's own ``__init__.py`` is hashed but not followed: it imports
    :class:`alsmeds.study.Study` lazily, on attribute access, for the reader's convenience.
    """
    if path == package_dir / "__init__.py":
        return set()
    own = ["alsmeds", *path.relative_to(package_dir).with_suffix("").parts]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = own[: len(own) - node.level]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "alsmeds" or target.startswith("alsmeds."):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)  # kept when a submodule
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == "alsmeds" or a.name.startswith("alsmeds."))
    # a module's parent packages run on import too
    for name in list(found):
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return found


def module_closure(modules: Iterable[str], package_dir: str | Path | None = None) -> list[Path]:
    """The source files of ``modules`` and of every ``alsmeds`` module they import, directly or not.

    Imports are read from the sources (also those inside functions), as
    ``tests/test_architecture.py`` reads them; nothing is imported.

    Parameters
    ----------
    modules : iterable of str
        Dotted module names, e.g. ``["alsmeds.estimands.implied"]``.
    package_dir : path-like, optional
        The ``alsmeds`` package folder (default: the installed one).

    Returns
    -------
    list of pathlib.Path
        Sorted source files.
    """
    package_dir = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    seen: set[Path] = set()
    todo = [f for f in (_module_file(m, package_dir) for m in modules) if f is not None]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(path, package_dir):
            found = _module_file(name, package_dir)
            if found is not None and found not in seen:
                todo.append(found)
    return sorted(seen)


def code_version(modules: Iterable[str], package_dir: str | Path | None = None) -> str:
    """SHA-256 of the code a computation runs: its module closure, their folders' data files, the libraries.

    Parameters
    ----------
    modules : iterable of str
        The computation's entry modules (:func:`module_closure` adds what they import).
    package_dir : path-like, optional
        The ``alsmeds`` package folder (default: the installed one).

    Returns
    -------
    str
        64 hexadecimal digits.  Changes with any edit of a source in the closure, of a
        ``.csv`` beside one (code lists, published values), with the package version and
        with the versions of :data:`LIBRARIES`.
    """
    package_dir = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    sources = module_closure(modules, package_dir)
    data = {p for folder in {s.parent for s in sources} for p in folder.iterdir() if p.suffix in DATA_SUFFIXES}
    digest = hashlib.sha256(f"alsmeds {alsmeds.__version__}\n".encode())
    for library in LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library} {version}\n".encode())
    for path in sorted(set(sources) | data):
        digest.update(f"{path.relative_to(package_dir).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(inputs: Mapping[str, Any], modules: Iterable[str], package_dir: str | Path | None = None) -> str:
    """The name of a cached value: SHA-256 of its inputs (as sorted JSON) and of :func:`code_version`.

    Parameters
    ----------
    inputs : mapping
        JSON-serialisable inputs of the computation (parameters, seed, sizes).
    modules : iterable of str
        The computation's entry modules.
    package_dir : path-like, optional
        The ``alsmeds`` package folder (default: the installed one).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    text = json.dumps({"inputs": inputs, "code": code_version(modules, package_dir)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cached_json(
    folder: str | Path,
    key: str,
    compute: Callable[[], Any],
    *,
    use_cache: bool = True,
    inputs: Mapping[str, Any] | None = None,
) -> Any:
    """The value of ``compute()``, read from ``folder/<key>.json`` when there, else computed and written there.

    Parameters
    ----------
    folder : path-like
        The cache's folder (:data:`CACHE_ROOT` / name).
    key : str
        The value's name (:func:`cache_key`).
    compute : callable
        Computes the value (a JSON-serialisable object).
    use_cache : bool
        False: compute, neither read nor write.
    inputs : mapping, optional
        Written beside the value, for a reader of the cache (not read back).

    Returns
    -------
    object
        The value as plain JSON with the bundle's rounding (:func:`alsmeds.data.write.json_text`),
        the same whether computed or read.
    """
    path = Path(folder) / f"{key}.json"
    if use_cache and path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))["value"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable: computed and written again
    value = json.loads(json_text(compute()))
    if use_cache:
        try:
            write_json_atomic(path, {"key": key, "inputs": dict(inputs or {}), "value": value})
        except OSError as exc:
            warnings.warn(f"could not write the estimand cache {path}: {exc}", stacklevel=2)
    return value


__all__ = ["CACHE_ROOT", "cache_key", "cached_json", "code_version", "module_closure"]
