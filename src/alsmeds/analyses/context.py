"""What an analysis is given: the study (data, rules, truth), its specification and the results folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alsmeds.analyses.spec import StudySpec
from alsmeds.study import Study

#: Columns of results files that hold booleans (read back as bool, not as text).
_BOOLEAN_COLUMNS = ("estimable", "is_exposure", "coverage_ok", "bias_ok", "published_in_ci")


def read_results_file(path: str | Path) -> pd.DataFrame | dict[str, Any]:
    """Read one results file as the analyses wrote it: a CSV as a frame, a JSON summary as a dict.

    Parameters
    ----------
    path : path-like
        ``<name>.csv`` (estimates: one row per term, the results vocabulary) or
        ``<name>.json`` (a summary such as ``followup.json``).

    Returns
    -------
    DataFrame or dict
        Empty cells of a CSV (the ``reason`` of an estimable term) are read as missing
        (NaN), the text "NA" as text; boolean columns as booleans.
    """
    path = Path(path)
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for column in _BOOLEAN_COLUMNS:
        if column in frame and frame[column].dtype == object:
            frame[column] = frame[column].map({"True": True, "False": False, True: True, False: False})
    return frame


@dataclass
class AnalysisContext:
    """The inputs of one run of the analyses.

    Attributes
    ----------
    study : Study
        The data under the specification's exposure rules (``study.rules == spec.rules``).
    spec : StudySpec
        The study specification.
    results_dir : Path
        Where every analysis writes and where an analysis reads the files of its needs.
    """

    study: Study
    spec: StudySpec
    results_dir: Path

    def read(self, file_name: str) -> pd.DataFrame | dict[str, Any]:
        """A results file an analysis needs (written earlier in the same folder)."""
        return read_results_file(self.results_dir / file_name)
