"""Tests of reading and writing register extracts (alsmeds.data.registry)."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsmeds.data.write as aio
from alsmeds.data import schema
from alsmeds.data.problems import RegistryValidationError
from alsmeds.data.registry import Registry, read_registry
from alsmeds.data.write import (
    FLOAT_FORMAT,
    MANIFEST_FILE,
    verify_manifest,
    write_csv_atomic,
    write_json_atomic,
    write_registry,
)

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid_minimal"


def _copy_valid(tmp_path: Path, name: str = "registry") -> Path:
    root = tmp_path / name
    shutil.copytree(VALID, root)
    return root


def _to_parquet(root: Path, table: str) -> None:
    """Replace <table>.csv by a typed Parquet file with the same content."""
    typed = read_registry(VALID)[table]
    typed.to_parquet(root / f"{table}.parquet", index=False)
    (root / f"{table}.csv").unlink()


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


# ----------------------------------------------------------------------------- reading


def test_read_registry_types() -> None:
    reg = read_registry(VALID)
    assert isinstance(reg, Registry)
    assert set(reg.tables) == set(schema.TABLES)
    assert reg.data_dir == VALID
    assert reg.metadata == {
        "register_start": date(2005, 7, 1),
        "recruitment_start": date(2015, 1, 1),
        "recruitment_end": date(2023, 7, 1),
        "end_of_follow_up": date(2023, 12, 31),
    }
    persons = reg["persons"]
    assert persons["person_id"].dtype == np.int64
    assert persons["birth_date"].dtype == "datetime64[ns]"
    assert persons["sex"].dtype == object and persons["sex"].iloc[0] == "male"
    assert persons["death_date"].isna().sum() == 8  # NaT for empty nullable dates
    assert reg["dispensings"]["packages"].dtype == np.int64
    assert reg["als_cases"]["diagnostic_delay_months"].dtype == np.float64
    alsfrs = reg["alsfrs"]
    assert alsfrs["alsfrs_r_total"].dtype == np.int64
    assert alsfrs["alsfrs_item_01"].dtype == "Int64" and alsfrs["alsfrs_item_01"].isna().sum() == 2
    # contract columns come in schema order
    assert list(reg["study_population"].columns) == ["person_id", "case_id", "role", "index_date"]
    assert reg.files["persons"] == "persons.csv"


def test_codes_are_normalised(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    path = root / "dispensings.csv"
    path.write_text(path.read_text().replace("N06AB04", " n06ab04 "))
    reg = read_registry(root)
    assert reg["dispensings"]["atc"].iloc[0] == "N06AB04"


def test_parquet_and_csv_read_the_same(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    for table in schema.TABLES:
        _to_parquet(root, table)
    from_parquet = read_registry(root)
    from_csv = read_registry(VALID)
    assert from_parquet.files["persons"] == "persons.parquet"
    for table in schema.TABLES:
        pd.testing.assert_frame_equal(from_parquet[table], from_csv[table], check_dtype=True)


def test_mixed_formats(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    _to_parquet(root, "dispensings")
    reg = read_registry(root)
    assert reg.files["dispensings"] == "dispensings.parquet" and reg.files["persons"] == "persons.csv"
    pd.testing.assert_frame_equal(reg["dispensings"], read_registry(VALID)["dispensings"])


def test_parquet_with_text_columns(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    raw = pd.read_csv(root / "persons.csv", dtype=str, keep_default_na=False)
    raw.to_parquet(root / "persons.parquet", index=False)
    (root / "persons.csv").unlink()
    pd.testing.assert_frame_equal(read_registry(root)["persons"], read_registry(VALID)["persons"])


def test_both_formats_is_an_error(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    read_registry(VALID)["outcomes"].to_parquet(root / "outcomes.parquet", index=False)
    with pytest.raises(RegistryValidationError) as info:
        read_registry(root)
    assert [(p.table, p.rule) for p in info.value.problems] == [("outcomes", "duplicate_table_file")]
    with pytest.raises(RegistryValidationError):
        read_registry(root, validate=False)


def test_extra_columns_and_metadata_are_kept(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    meta = json.loads((root / "extract.json").read_text())
    meta["source"] = "test"
    (root / "extract.json").write_text(json.dumps(meta))
    path = root / "diagnoses.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",source"] + [line + ",npr" for line in lines[1:]]) + "\n")
    reg = read_registry(root)
    assert reg.metadata["source"] == "test"
    assert list(reg["diagnoses"].columns) == ["person_id", "diagnosis_date", "icd10", "source"]


def test_read_without_validation(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    path = root / "dispensings.csv"
    text = path.read_text().replace("201,2012-07-01", "2x1,2012-07-01").replace("2016-05-20", "2016-05-40")
    path.write_text(text)
    with pytest.raises(RegistryValidationError):
        read_registry(root)
    disp = read_registry(root, validate=False)["dispensings"]
    assert disp["person_id"].dtype == "Int64" and disp["person_id"].isna().sum() == 1
    assert disp["dispensing_date"].isna().sum() == 1


def test_read_without_validation_still_needs_every_file(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    (root / "alsfrs.csv").unlink()
    with pytest.raises(RegistryValidationError) as info:
        read_registry(root, validate=False)
    assert [p.rule for p in info.value.problems] == ["missing_table"]


# ----------------------------------------------------------------------------- writing


def test_write_registry_round_trip_is_byte_identical(tmp_path: Path) -> None:
    """The fixture is in the canonical format: reading and writing it changes nothing."""
    reg = read_registry(VALID)
    out = write_registry(tmp_path / "out", reg.tables, reg.metadata)
    assert out == tmp_path / "out"
    assert _files(out) == _files(VALID)
    assert verify_manifest(VALID) == []


def test_write_registry_is_deterministic(tmp_path: Path) -> None:
    reg = read_registry(VALID)
    extra = {"truth.json": {"b": [1, 2.5], "a": {"seed": np.int64(7), "when": date(2020, 1, 1)}}}
    people = pd.DataFrame({"person_id": [1, 2], "u": [0.123456789, np.nan]})
    first = write_registry(tmp_path / "a", reg.tables, reg.metadata, extra_json=extra, extra_tables={"p.csv": people})
    # same content, different dict order and fresh objects
    tables = {name: reg.tables[name].copy() for name in reversed(list(reg.tables))}
    meta = {k: v.isoformat() for k, v in reversed(list(reg.metadata.items()))}
    second = write_registry(tmp_path / "b", tables, meta, extra_json=extra, extra_tables={"p.csv": people.copy()})
    assert _files(first) == _files(second)
    manifest = (first / MANIFEST_FILE).read_text()
    names = [line.split("  ", 1)[1] for line in manifest.splitlines()]
    assert names == sorted(names) == sorted(set(_files(first)) - {MANIFEST_FILE})
    assert (first / "truth.json").read_text() == (
        '{\n  "a": {\n    "seed": 7,\n    "when": "2020-01-01"\n  },\n  "b": [\n    1,\n    2.5\n  ]\n}\n'
    )
    assert (first / "p.csv").read_text() == "person_id,u\n1,0.123457\n2,\n"


def test_csv_format() -> None:
    df = pd.DataFrame(
        {
            "id": pd.Series([1, 2, 3], dtype="int64"),
            "when": pd.to_datetime([pd.Timestamp("2020-01-02"), None, pd.Timestamp("1999-12-31 13:45")]),
            "x": [1.0, 1234567.0, np.nan],
            "y": [1 / 3, 0.0001234567, -2.5],
            "n": pd.array([4, None, 0], dtype="Int64"),
            "s": ["a", None, "b,c"],
        }
    )
    assert FLOAT_FORMAT == "%.6g"
    buf = io.StringIO()
    aio.write_csv(df, buf)
    assert buf.getvalue() == (
        'id,when,x,y,n,s\n1,2020-01-02,1,0.333333,4,a\n2,,1.23457e+06,0.000123457,,\n3,1999-12-31,,-2.5,0,"b,c"\n'
    )


def test_write_registry_replaces_the_old_folder(tmp_path: Path) -> None:
    reg = read_registry(VALID)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.csv").write_text("old\n")
    write_registry(out, reg.tables, reg.metadata)
    assert not (out / "stale.csv").exists()
    assert verify_manifest(out) == []
    assert _leftovers(tmp_path, "out") == []


def test_write_registry_is_atomic_on_failure_mid_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _copy_valid(tmp_path, "out")
    before = _files(out)
    reg = read_registry(VALID)
    calls = []
    real = aio._write_table_csv

    def failing(df: pd.DataFrame, path: Path) -> None:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError("disk full")
        real(df, path)

    monkeypatch.setattr(aio, "_write_table_csv", failing)
    with pytest.raises(OSError, match="disk full"):
        write_registry(out, {**reg.tables, "dispensings": reg["dispensings"].head(1)}, reg.metadata)
    assert len(calls) == 3
    assert _files(out) == before
    assert _leftovers(tmp_path, "out") == []


def test_write_registry_is_atomic_on_failure_at_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _copy_valid(tmp_path, "out")
    before = _files(out)
    reg = read_registry(VALID)
    real_rename = os.rename

    def rename(src, dst):  # fail when the new folder is moved in, after the old one was moved away
        if ".tmp-" in os.fspath(src):
            raise PermissionError("busy")
        return real_rename(src, dst)

    monkeypatch.setattr(aio.os, "rename", rename)
    with pytest.raises(PermissionError):
        write_registry(out, reg.tables, reg.metadata)
    monkeypatch.undo()
    assert _files(out) == before
    assert _leftovers(tmp_path, "out") == []


def test_write_registry_into_new_nested_folder(tmp_path: Path) -> None:
    reg = read_registry(VALID)
    out = write_registry(tmp_path / "a" / "b", reg.tables, reg.metadata)
    assert verify_manifest(out) == []
    assert read_registry(out).metadata == reg.metadata


@pytest.mark.parametrize(
    ("tables", "extra"),
    [({"../evil": pd.DataFrame()}, None), ({}, {"extract.json": {}}), ({"x": pd.DataFrame()}, {"x.csv": {}})],
)
def test_write_registry_rejects_bad_names(tmp_path: Path, tables: dict, extra: dict | None) -> None:
    with pytest.raises(ValueError):
        write_registry(tmp_path / "out", tables, {}, extra_json=extra)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_write_registry_refuses_to_replace_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(NotADirectoryError):
        write_registry(tmp_path / "out", {}, {})


# ----------------------------------------------------------------------------- manifest


def test_verify_manifest_catches_a_changed_byte(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    assert verify_manifest(root) == []
    path = root / "alsfrs.csv"
    data = bytearray(path.read_bytes())
    data[-2] ^= 1  # "3" -> "2" in the last line
    path.write_bytes(bytes(data))
    (problem,) = verify_manifest(root)
    assert problem.startswith("alsfrs.csv: checksum mismatch")


def test_verify_manifest_missing_and_unlisted_files(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    (root / "outcomes.csv").unlink()
    (root / "notes.txt").write_text("x")
    (root / ".hidden").write_text("ignored")
    assert verify_manifest(root) == [
        "outcomes.csv: listed in MANIFEST.sha256 but missing",
        "notes.txt: file not listed in MANIFEST.sha256",
    ]


def test_verify_manifest_without_or_with_a_broken_manifest(tmp_path: Path) -> None:
    root = _copy_valid(tmp_path)
    manifest = root / MANIFEST_FILE
    text = manifest.read_text()
    manifest.write_text(text + "not a checksum line\n")
    (problem,) = verify_manifest(root)
    assert "line 9: malformed line" in problem
    manifest.unlink()
    (problem,) = verify_manifest(root)
    assert "MANIFEST.sha256 is missing" in problem


# ----------------------------------------------------------------------------- atomic result files


def test_write_json_atomic(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "sub" / "r.json", {"z": 1, "a": [np.float64(0.5)]})
    assert path.read_text() == '{\n  "a": [\n    0.5\n  ],\n  "z": 1\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_write_csv_atomic(tmp_path: Path) -> None:
    df = pd.DataFrame({"term": ["a", "b"], "or": [1.23456789, 2.0]})
    path = write_csv_atomic(tmp_path / "r.csv", df)
    assert path.read_text() == "term,or\na,1.23457\nb,2\n"
    write_csv_atomic(path, df, float_format="%.10g")
    assert path.read_text() == "term,or\na,1.23456789\nb,2\n"


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "r.json", {"ok": True})
    with pytest.raises(TypeError):
        write_csv_atomic(path, "not a frame")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from alsmeds.data.write import remove_stale_temporaries, temporary_sibling

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale_file = tmp_path / f".risk_models.json.tmp-{dead_pid}-ab12cd34"
    stale_figure = tmp_path / f".03_forest.png.tmp-{dead_pid}-0011aabb.png"
    stale_dir = tmp_path / f".synthetic.old-{dead_pid}-deadbeef"
    live = temporary_sibling(tmp_path / "table1.csv")
    keep = tmp_path / "results.json"
    for path in (stale_file, stale_figure, live, keep):
        path.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "persons.csv").write_text("x")
    assert live.name.startswith(f".table1.csv.tmp-{os.getpid()}-")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_figure, stale_dir])
    assert live.exists() and keep.exists()
    assert remove_stale_temporaries(tmp_path / "missing") == []
