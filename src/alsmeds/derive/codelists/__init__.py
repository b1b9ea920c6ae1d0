"""Versioned code lists: ATC groups of the drug classes and ICD groups of psychiatric history.

The lists are CSV files in this folder (``atc_classes.csv``, ``icd10_psychiatric.csv``,
``icd9_psychiatric.csv``) with columns group, level or prefix, description, source and
version, so that a reader can see, diff and change exactly what counts as exposure.
Matching is by prefix after trimming white space and upper-casing; a code outside every
list is simply not an exposure (a malformed code is an input error caught by the validator).

Psychiatric history has one definition in two code versions
(:func:`psychiatric_codelist`): ICD-10 chapter V (F00-F99) and, for diagnoses before
1997, ICD-9 chapter V (290-319; ICD-8's chapter of 1969-1986, 290-315, lies inside the same
range).  ICD-10 codes begin with a letter and ICD-9 codes with a digit, so one prefix
table serves both without an ICD-version column; ICD-9's supplementary E and V codes
begin with a letter, match no psychiatric prefix and count as non-psychiatric.  ICD-9
codes map to the named groups (depression, stress...) only where a whole three-digit
category corresponds to the ICD-10 group; every ICD-9 chapter V code counts for
``any_psychiatric``.

``atc_classes.csv`` also holds, at its own level ``negative_control``, the negative-control
exposure (proton-pump inhibitors, A02BC; :data:`alsmeds.constants.NEGATIVE_CONTROL`), which
:func:`class_codelist` at the default level never returns.

``negative_control_panel.csv`` is the panel of controls of empirical calibration (issue 25;
:func:`panel_codelist`): drug classes judged unrelated to ALS risk (level ``negative_control``,
the PPIs first), each with its rationale and source, and three *synthetic* positive controls
(level ``positive_control``, made-up codes under ``Z99``, which is no ATC anatomical group)
whose planted odds ratio is ``true_or``.  Its columns: group, level, atc_prefix, description,
true_or, rationale, source, version.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from alsmeds.constants import NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC


def load_codelist(name: str) -> pd.DataFrame:
    """Read a bundled code list (``"atc_classes"``, ``"icd10_psychiatric"``, ``"icd9_psychiatric"`` or
    ``"negative_control_panel"``)."""
    with resources.files(__package__).joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def codelist_versions() -> dict[str, str]:
    """The version of each code list, as a study specification names it.

    Returns
    -------
    dict
        ``drug_classes`` (``atc_classes.csv``), ``psychiatric_history_icd10``,
        ``psychiatric_history_icd9`` and ``negative_control_panel``; a list whose rows carry several
        versions is reported as them joined by ``+`` (sorted), so that a mixed list never passes for one
        version.
    """

    def version(*names: str) -> str:
        found = sorted({v for name in names for v in load_codelist(name)["version"]})
        return "+".join(found)

    return {
        "drug_classes": version("atc_classes"),
        "psychiatric_history_icd10": version("icd10_psychiatric"),
        "psychiatric_history_icd9": version("icd9_psychiatric"),
        "negative_control_panel": version("negative_control_panel"),
    }


def normalise_codes(codes: pd.Series) -> pd.Series:
    """Trim white space, upper-case and drop dots (``" f32.1 "`` -> ``"F321"``)."""
    return codes.astype(str).str.strip().str.upper().str.replace(".", "", regex=False)


def match_prefixes(codes: pd.Series, prefixes: pd.Series, groups: pd.Series) -> pd.Series:
    """The group of the longest matching prefix for each code, or NaN when none matches.

    Parameters
    ----------
    codes : Series of str
        Normalised codes (see :func:`normalise_codes`).
    prefixes, groups : Series of str
        Code-list prefixes and the group each belongs to.
    """
    # Registers hold few distinct codes: match those once and map back (20x faster than matching every row).
    codes = pd.Series(codes).reset_index(drop=True)
    distinct = pd.Series(pd.unique(codes.to_numpy(dtype=object)), dtype=object)
    out = np.full(distinct.shape[0], None, dtype=object)
    best = np.zeros(distinct.shape[0], dtype=np.int64)
    for prefix, group in zip(prefixes, groups, strict=True):
        prefix = prefix.strip().upper()
        hit = distinct.str.startswith(prefix).to_numpy(dtype=bool) & (len(prefix) > best)
        out[hit] = group
        best[hit] = len(prefix)
    lookup = pd.Series(out, index=distinct.to_numpy(), dtype=object)
    return pd.Series(codes.map(lookup).to_numpy(dtype=object), dtype=object)


def class_codelist(level: str = "class") -> pd.DataFrame:
    """ATC prefixes of the three study classes (``level="class"``), of their subclasses (``"subclass"``)
    or of the negative-control exposure (``"negative_control"``, see :func:`negative_control_codelist`)."""
    frame = load_codelist("atc_classes")
    return frame[frame["level"] == level].reset_index(drop=True)


def negative_control_codelist() -> pd.DataFrame:
    """ATC prefixes of the negative-control exposure (rows of level ``negative_control``).

    The class is :data:`alsmeds.constants.NEGATIVE_CONTROL` with the ATC group
    :data:`alsmeds.constants.NEGATIVE_CONTROL_ATC`; the code list must say the same.

    Raises
    ------
    ValueError
        When ``atc_classes.csv`` and the constants disagree (another group name or prefix).
    """
    codes = class_codelist("negative_control")
    expected = {(NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC)}
    found = set(zip(codes["group"], codes["atc_prefix"], strict=True))
    if found != expected:
        raise ValueError(
            f"atc_classes.csv lists the negative control as {sorted(found)}, constants.py as {sorted(expected)}"
        )
    return codes


#: Levels of ``negative_control_panel.csv``.
PANEL_LEVELS = ("negative_control", "positive_control")


def panel_codelist(level: str | None = None) -> pd.DataFrame:
    """The panel of controls of empirical calibration (``negative_control_panel.csv``), checked.

    Parameters
    ----------
    level : {"negative_control", "positive_control"}, optional
        Only the rows of one level; None: every row, the negative controls first.

    Returns
    -------
    pandas.DataFrame
        Columns group, level, atc_prefix, description, true_or (float: 1 for a negative control,
        the planted odds ratio of a synthetic positive control), rationale, source, version.  One
        row per group: a class is one ATC prefix.

    Raises
    ------
    ValueError
        A group listed twice, an unknown level, a prefix that another prefix of the panel or of a
        study class (``atc_classes.csv`` level ``class``) begins with, a negative control whose
        ``true_or`` is not 1, or the PPIs (:data:`alsmeds.constants.NEGATIVE_CONTROL`) not first with
        :data:`alsmeds.constants.NEGATIVE_CONTROL_ATC`.
    """
    frame = load_codelist("negative_control_panel")
    frame["true_or"] = frame["true_or"].astype(float)
    problems = []
    if frame["group"].duplicated().any():
        problems.append(f"groups listed twice: {sorted(frame.loc[frame['group'].duplicated(), 'group'])}")
    unknown = sorted(set(frame["level"]) - set(PANEL_LEVELS))
    if unknown:
        problems.append(f"unknown levels {unknown}")
    prefixes = [p.strip().upper() for p in frame["atc_prefix"]] + list(class_codelist("class")["atc_prefix"])
    for i, a in enumerate(prefixes[: len(frame)]):
        clash = [b for j, b in enumerate(prefixes) if j != i and (a.startswith(b) or b.startswith(a))]
        if clash:
            problems.append(f"prefix {a} overlaps {clash}")
    negatives = frame[frame["level"] == "negative_control"]
    if (negatives["true_or"] != 1.0).any():
        problems.append("a negative control's true_or must be 1")
    if frame.empty or (frame["group"].iloc[0], frame["atc_prefix"].iloc[0]) != (NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC):
        problems.append(f"the first control must be {NEGATIVE_CONTROL} ({NEGATIVE_CONTROL_ATC})")
    if problems:
        raise ValueError("negative_control_panel.csv: " + "; ".join(problems))
    if level is not None:
        frame = frame[frame["level"] == level]
    return frame.reset_index(drop=True)


def psychiatric_codelist() -> pd.DataFrame:
    """The prefixes of psychiatric history in ICD-10 and ICD-9, as one table.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``prefix``, ``icd_version`` (``"ICD-10"`` or ``"ICD-9"``),
        ``description``, ``source`` and ``version``: the rows of ``icd10_psychiatric.csv``
        then those of ``icd9_psychiatric.csv``.  The ICD-9 groups are a subset of the
        ICD-10 groups, so both versions feed the same ``psych_<group>`` flags.
    """
    icd10 = load_codelist("icd10_psychiatric").rename(columns={"icd10_prefix": "prefix"})
    icd9 = load_codelist("icd9_psychiatric").rename(columns={"icd9_prefix": "prefix"})
    columns = ["group", "prefix", "icd_version", "description", "source", "version"]
    return pd.concat(
        [icd10.assign(icd_version="ICD-10")[columns], icd9.assign(icd_version="ICD-9")[columns]], ignore_index=True
    )
