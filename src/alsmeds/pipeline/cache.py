"""The analysis table cached between notebooks (a build artefact).
"""

from __future__ import annotations

import pandas as pd

from alsmeds.data.registry import Registry
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.derive.exposure import (
    DEFAULT_RULES,
    ExposureRules,
)

ANALYSIS_TABLE_FILE = "analysis_table.parquet"


ANALYSIS_TABLE_SOURCE_FILE = "analysis_table.source.json"


#: The tables the analysis table is built from (its cache key covers them and extract.json).
ANALYSIS_INPUT_TABLES = ("persons", "study_population", "dispensings", "diagnoses")


def data_fingerprint(data_dir) -> str:
    """SHA-256 over the checksums of every table file and ``extract.json`` of a register folder."""
    import hashlib
    from pathlib import Path

    from alsmeds.data.write import sha256_file

    digest = hashlib.sha256()
    for path in sorted(Path(data_dir).iterdir()):
        if path.suffix in (".csv", ".parquet") and path.stem in ANALYSIS_INPUT_TABLES or path.name == "extract.json":
            digest.update(f"{path.name} {sha256_file(path)}\n".encode())
    return digest.hexdigest()


def write_analysis_table(table: pd.DataFrame, registry: Registry, results_dir, rules: ExposureRules = DEFAULT_RULES):
    """Write the table and its source record (data fingerprint and rules) to ``results_dir``, atomically.

    The old source record is removed first, so a crash between the two writes never
    leaves a record that vouches for a table of other data.
    """
    from pathlib import Path

    from alsmeds.data.write import write_json_atomic, write_parquet_atomic

    results_dir = Path(results_dir)
    (results_dir / ANALYSIS_TABLE_SOURCE_FILE).unlink(missing_ok=True)
    table_path = write_parquet_atomic(results_dir / ANALYSIS_TABLE_FILE, table)
    source_path = write_json_atomic(results_dir / ANALYSIS_TABLE_SOURCE_FILE, _source_record(registry, rules))
    return [table_path, source_path]


def _source_record(registry: Registry, rules: ExposureRules) -> dict:
    import json
    from dataclasses import asdict

    return json.loads(json.dumps({"data_fingerprint": data_fingerprint(registry.data_dir), "rules": asdict(rules)}))


def analysis_table_for(
    registry: Registry, results_dir, rules: ExposureRules = DEFAULT_RULES, rebuild: bool = False
) -> pd.DataFrame:
    """The analysis table of a registry: read from ``results_dir`` when it was built from the same data, else built.

    A table is reused only when ``analysis_table.source.json`` next to it records the
    same data fingerprint and exposure rules; otherwise (or with ``rebuild=True``) it is
    built and written with :func:`write_analysis_table`, so a notebook never fits models
    to a table of other data.
    """
    import json
    from pathlib import Path

    results_dir = Path(results_dir)
    table_path, source_path = results_dir / ANALYSIS_TABLE_FILE, results_dir / ANALYSIS_TABLE_SOURCE_FILE
    if (
        not rebuild
        and table_path.is_file()
        and source_path.is_file()
        and json.loads(source_path.read_text()) == _source_record(registry, rules)
    ):
        return pd.read_parquet(table_path)
    table = build_analysis_table(registry, rules)
    write_analysis_table(table, registry, results_dir, rules)
    return table
