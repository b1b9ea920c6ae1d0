"""A register extract read, validated and typed: :class:`Registry` and :func:`read_registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alsmeds.data.problems import (
    Problem,
    RegistryValidationError,
    _order,
)
from alsmeds.data.read import load_raw
from alsmeds.data.validate import check_tables

#: Problems that make a table or the folder unreadable: raised even by ``read_registry(validate=False)``.
_FATAL_RULES = (
    "missing_folder",
    "unreadable_folder",
    "missing_table",
    "duplicate_table_file",
    "unreadable_table",
    "unbalanced_quote",
    "wrong_field_count",
    "not_utf8",
    "missing_metadata",
)


@dataclass(frozen=True)
class Registry:
    """A register extract read into memory.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Every table of the contract, parsed by column kind: ``id`` as int64,
        ``date`` as datetime64[ns] (NaT where empty), ``category`` and ``str`` as
        object strings (NaN where empty; coded columns upper-cased and trimmed),
        ``int`` as int64 (nullable Int64 for nullable columns), ``float`` as float64.
        Columns not in the contract are kept, as read, after the contract's columns.
    metadata : dict
        The study dates of ``extract.json`` (``register_start``,
        ``recruitment_start``, ``recruitment_end``, ``end_of_follow_up``) as
        :class:`datetime.date`; any other key of the file is kept as stored.
    data_dir : pathlib.Path
        The folder read.
    files : dict of str to str
        Table name -> the file it was read from.
    warnings : list of alsmeds.data.problems.Problem
        What the extract holds that real registers contain and the analysis handles by a
        documented rule (severity ``"warning"``, each with its count of rows); see
        :func:`alsmeds.data.problems.warnings_frame` for a table of them.
    """

    tables: dict[str, pd.DataFrame]
    metadata: dict[str, Any]
    data_dir: Path
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def read_registry(data_dir: str | Path, validate: bool = True) -> Registry:
    """Read a register extract folder into typed tables.

    Parameters
    ----------
    data_dir : str or pathlib.Path
        Folder with one ``<name>.csv`` or ``<name>.parquet`` per table of the
        contract, and ``extract.json``.
    validate : bool, default True
        Check the whole data contract first and raise on any error.  With False,
        only missing or unreadable files raise; unparseable values are read as
        missing (which may make an id column nullable Int64) and no rule is checked.

    Returns
    -------
    Registry
        With :attr:`Registry.warnings`: what the extract holds that real registers
        contain and the analysis handles by a documented rule (never raised).

    Raises
    ------
    alsmeds.data.problems.RegistryValidationError
        If the extract breaks the contract (all errors listed, and the warnings), or
        ``data_dir`` is not a folder.
    """
    raw = load_raw(data_dir)
    problems, parsed, dates = check_tables(
        raw.tables, raw.metadata, raw.display_files(), rules=validate, already_reported=raw.files, lines=raw.lines
    )
    problems = _order(raw.problems + problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings_found = [p for p in problems if p.severity == "warning"]
    if not validate:
        errors = [p for p in errors if p.rule in _FATAL_RULES]
    if errors:
        raise RegistryValidationError(errors, raw.data_dir, warnings=warnings_found)
    metadata: dict[str, Any] = dict(dates)
    metadata.update({k: v for k, v in (raw.metadata or {}).items() if k not in dates})
    return Registry(
        tables={name: pt.frame for name, pt in parsed.items()},
        metadata=metadata,
        data_dir=raw.data_dir,
        files={name: raw.files[name] for name in parsed},
        warnings=warnings_found,
    )
