"""One list of pins rules every way of building the environment.

``requirements.txt`` is a full ``pip freeze`` lock; ``environment.yml`` (Binder, conda)
only supplies Python 3.11 and pip and hands off to it; ``pyproject.toml`` states the
direct dependencies, which the lock must satisfy.
"""

from __future__ import annotations

import json
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    """Parse requirements.txt into {canonical name: version}, asserting every line is an ``==`` pin."""
    pins: dict[str, str] = {}
    for number, raw in enumerate((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"requirements.txt:{number}: {raw!r}"
        assert not line.startswith("-"), f"{where}: options and editable installs do not belong in the lock"
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{where} is not pinned with =="
        assert "*" not in specs[0].version and not req.url, f"{where} is not an exact version pin"
        name = canonicalize_name(req.name)
        assert name not in pins, f"requirements.txt:{number}: {req.name} pinned twice"
        pins[name] = specs[0].version
    return pins


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    return _lock()


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def test_requirements_pin_every_line(lock: dict[str, str]) -> None:
    assert len(lock) > 50  # a full lock, not a list of direct dependencies


def test_environment_yml_is_python_311_and_hands_off_to_pip(environment: dict) -> None:
    assert environment["name"] == "alsmeds"
    assert environment["channels"] == ["conda-forge"]
    deps = environment["dependencies"]
    conda_deps = [d for d in deps if isinstance(d, str)]
    assert "python=3.11" in conda_deps
    assert "pip" in conda_deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    pip_lines = [" ".join(str(x).split()) for x in pip_sections[0]]
    assert "-r requirements.txt" in pip_lines
    assert "-e ." in pip_lines
    # nothing pinned twice: conda supplies only python and pip
    assert set(conda_deps) == {"python=3.11", "pip"}


def test_pyproject_dependencies_satisfied_by_lock(pyproject: dict, lock: dict[str, str]) -> None:
    problems = []
    for spec in pyproject["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        if name not in lock:
            problems.append(f"{req.name} is not in requirements.txt")
        elif not req.specifier.contains(lock[name], prereleases=True):
            problems.append(f"requirements.txt pins {req.name}=={lock[name]}, outside pyproject's {req.specifier}")
    assert not problems, "\n".join(problems)


def test_python_version_consistent(pyproject: dict) -> None:
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(pyproject["project"]["requires-python"]).contains("3.11")


def test_pandas_below_3_and_lifelines_locked(lock: dict[str, str]) -> None:
    # lifelines 0.30.3 requires pandas < 3 (engineering notes)
    assert Version(lock["pandas"]) < Version("3")
    assert "lifelines" in lock


def test_installed_environment_matches_lock(lock: dict[str, str]) -> None:
    """The running environment is the locked one (`make venv` re-syncs it when requirements.txt changes)."""
    mismatched = []
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name}=={version}: not installed")
            continue
        if Version(installed) != Version(version):
            mismatched.append(f"{name}=={version}: {installed} installed")
    assert not mismatched, "environment differs from requirements.txt (run `make venv`):\n" + "\n".join(mismatched)


def test_jupyterlab_overrides_are_valid_settings() -> None:
    """``make lab`` installs jupyter/overrides.json: each key must be a setting of the installed JupyterLab.

    The file turns off the news and update pop-up; a key JupyterLab does not know would be
    ignored silently, and the pop-up would come back.
    """
    import sys

    overrides = json.loads((ROOT / "jupyter" / "overrides.json").read_text(encoding="utf-8"))
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    for plugin, settings in overrides.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text(encoding="utf-8"))
        for key, value in settings.items():
            spec = schema["properties"][key]
            allowed = [option["const"] for option in spec.get("oneOf", [])] or None
            assert allowed is None or value in allowed, f"{plugin} {key}={value!r} not in {allowed}"
            assert spec.get("type") != "boolean" or isinstance(value, bool)
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
