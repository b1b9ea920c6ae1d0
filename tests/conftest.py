"""Shared fixtures: the committed data's truth and analysis table, a large simulated analysis table, R.

Markers (registered in ``pyproject.toml``): ``slow`` (large-scale recovery), ``r`` (needs R;
given by :func:`pytest_collection_modifyitems` to every test that uses :func:`needs_r`) and
``notebooks`` (executes the lessons; given to every nbval item).  The fast developer loop is
``pytest -m "not slow and not notebooks and not r"``.
"""

from __future__ import annotations

import json
import os

import pytest

from alsmeds.data.registry import read_registry
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference import r_available

#: True under continuous integration (``CI`` set and not false, as CI services and ``.ci/run`` do).
IN_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
#: How to install what :func:`needs_r` checks for (Debian packages; ``.ci/run`` installs them in CI).
R_INSTALL = "apt-get install -y --no-install-recommends r-base-core r-cran-survival r-cran-nlme r-cran-jsonlite"

#: Scale of the recovery tests (20 x the paper's 1,057 cases).
LARGE_SCALE = 20


@pytest.fixture(scope="session")
def committed_truth():
    return json.loads((SYNTHETIC_DIR / "truth.json").read_text())


@pytest.fixture(scope="session")
def paper_table():
    """The analysis table of the committed synthetic data."""
    return build_analysis_table(read_registry(SYNTHETIC_DIR))


@pytest.fixture(scope="session")
def large_table(tmp_path_factory):
    """Analysis table built from register rows of a 20x simulation (simulate -> write -> read -> classify)."""
    from alsmeds.simulate import generate

    folder = tmp_path_factory.mktemp("large") / "registry"
    generate(seed=23, scale=LARGE_SCALE, truth_scale=0).write(folder)
    return build_analysis_table(read_registry(folder))


@pytest.fixture(scope="session")
def needs_r() -> None:
    """Require Rscript with survival, nlme and jsonlite (:func:`alsmeds.reference.r_available`).

    Skips the test when R is missing, except under CI (:data:`IN_CI`), where R is installed by
    ``.ci/run`` and a missing R is a broken install: the test then fails rather than skipping
    the reference checks silently.  A test that uses this fixture is marked ``r``.
    """
    if r_available():
        return
    if IN_CI:
        pytest.fail(
            f"CI is set but Rscript with survival, nlme and jsonlite is not available: the R install in .ci/run "
            f"failed ({R_INSTALL}); the R reference checks must not be skipped in CI",
            pytrace=False,
        )
    pytest.skip(f"R reference checks need Rscript with survival, nlme and jsonlite ({R_INSTALL})")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``r`` every test that uses :func:`needs_r`, and ``notebooks`` every executed notebook (nbval);
    run the files that hold a ``slow`` test first and the notebooks last.

    ``tryfirst`` so that the marks are there when ``-m`` deselects.  The order: ``make test``
    spreads whole files over the cores (pytest-xdist, ``--dist loadfile``) in the order of
    collection; a long file handed out last keeps one core busy while the other idles,
    handed out first the many short files and the notebooks (about ten seconds each) fill in
    around it.  The order of the tests within a file is kept (a stable sort).
    """
    for item in items:
        if "needs_r" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.r)
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: 2 if item.path.suffix == ".ipynb" else 0 if item.path in slow_files else 1)


@pytest.fixture
def synthetic(tmp_path):
    """A copy of the committed synthetic extract (tables and extract.json only), free to damage."""
    import shutil

    from alsmeds.data import schema

    root = tmp_path / "extract"
    root.mkdir()
    for name in [f"{table}.csv" for table in schema.TABLES] + [schema.EXTRACT_METADATA_FILE]:
        shutil.copyfile(SYNTHETIC_DIR / name, root / name)
    return root
