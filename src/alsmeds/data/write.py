"""Writing files atomically and deterministically: register extracts, results, manifests.

Every file the bundle writes goes through here.  A file is written to a hidden
temporary sibling (``.<name>.tmp-<pid>-<hex>``) and renamed into place, so a reader
never sees a half-written file; a folder (:func:`write_registry`) is built beside its
target and swapped in (:func:`check_registry_target` says beforehand whether it can
be).  :func:`remove_stale_temporaries` clears what a killed process left behind.

Deterministic CSV format
------------------------
Files written by :func:`write_registry` and :func:`write_csv_atomic` are byte-identical
for identical inputs:

* UTF-8, comma-separated, a header line, ``"\n"`` line endings, no index column,
  fields quoted only when needed;
* dates (``datetime64`` columns) as ``YYYY-MM-DD`` (a time of day is dropped);
* floats with the C format ``%.6g`` (:data:`FLOAT_FORMAT`) for register tables;
  results use :data:`alsmeds.precision.CSV_FLOAT_FORMAT` (8 significant digits);
* integers as they are; a missing value of any type as an empty field.

JSON files have sorted keys, two-space indentation, ASCII only and a trailing
newline; dates are written as ISO strings and floats with 8 significant digits
(:func:`json_text`).  :func:`write_registry` adds a ``MANIFEST.sha256`` of every file
it wrote; :func:`verify_manifest` checks one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from alsmeds.data import schema

#: printf-style format of every float written to CSV.
FLOAT_FORMAT = "%.6g"


#: Date format of every date written to CSV.
DATE_FORMAT = "%Y-%m-%d"


#: The checksum file written by :func:`write_registry`, in ``sha256sum`` format.
MANIFEST_FILE = "MANIFEST.sha256"


_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


_MANIFEST_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, pd.Timestamp | datetime):
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, np.datetime64):
        return str(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} to JSON")


def json_text(obj: Any) -> str:
    """The deterministic JSON text of an object: sorted keys, indent 2, ASCII, trailing newline.

    Dates become ISO strings, numpy scalars plain numbers, and every float is rounded to
    :data:`alsmeds.precision.SIGNIFICANT_DIGITS` significant digits, so a rerun on any
    machine writes the same text unless a value moves by more than rounding.
    """
    from alsmeds.precision import round_floats

    plain = json.loads(json.dumps(obj, default=_json_default))
    return json.dumps(round_floats(plain), sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def _metadata_json(metadata: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, pd.Timestamp | datetime):
            value = value.date()
        out[str(key)] = value.isoformat() if isinstance(value, date) else value
    return out


def _prepare_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """Turn object columns of timestamps into datetime64 so that they are written as dates."""
    convert = {}
    for name, s in df.items():
        if s.dtype != object:
            continue
        first = s.first_valid_index()
        if first is None or not isinstance(s[first], datetime | np.datetime64):
            continue
        if ptypes.infer_dtype(s, skipna=True) in ("datetime", "datetime64"):
            convert[name] = pd.to_datetime(s)
    return df.assign(**convert) if convert else df


def write_csv(df: pd.DataFrame, fh: Any, float_format: str = FLOAT_FORMAT) -> None:
    """Write a DataFrame to an open text file in the deterministic CSV format (module docstring)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    _prepare_for_csv(df).to_csv(
        fh,
        index=False,
        lineterminator="\n",
        na_rep="",
        float_format=float_format,
        date_format=DATE_FORMAT,
        encoding="utf-8",
    )


def _write_table_csv(df: pd.DataFrame, path: Path) -> None:
    with open(path, "x", encoding="utf-8", newline="") as fh:
        write_csv(df, fh)
        fh.flush()
        os.fsync(fh.fileno())


def _write_text(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: Hidden temporary files and folders of atomic writes: ``.<name>.tmp-<pid>-<hex>`` (being
#: written) and ``.<name>.old-<pid>-<hex>`` (a replaced folder being deleted).  The
#: ``.gitignore`` ignores the pattern; :func:`remove_stale_temporaries` clears what a
#: killed process left behind.
_TEMPORARY = re.compile(r"\..+\.(?:tmp|old)-(?P<pid>[0-9]+)-[0-9a-f]+(?:\.[A-Za-z0-9]+)?")


def _sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def temporary_sibling(path: str | Path, suffix: str = "") -> Path:
    """A hidden temporary path beside ``path`` for an atomic write (write there, then rename).

    Parameters
    ----------
    path : path-like
        The final file.
    suffix : str
        Appended to the name, for writers that infer the format from it (``".png"``).

    Returns
    -------
    pathlib.Path
        ``.<name>.tmp-<pid>-<hex><suffix>`` in the same folder; the pid lets
        :func:`remove_stale_temporaries` tell a live writer's file from a dead one's.
    """
    tmp = _sibling(Path(path), "tmp")
    return tmp.with_name(tmp.name + suffix)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files and folders of interrupted atomic writes in ``folder``.

    An atomic write removes its temporary file when it fails or is interrupted, but a
    process that is killed (a notebook kernel stopped by its runner, a power cut) cannot.
    Only temporaries whose writing process no longer runs are removed, so a concurrent
    writer is never disturbed; what cannot be removed (a read-only folder) is left, never
    an error.

    Parameters
    ----------
    folder : path-like
        Searched non-recursively; a missing folder is fine.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    folder = Path(folder)
    try:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:  # a folder that cannot be read cannot be cleaned either: nothing to do
        return []
    removed = []
    for path in entries:
        match = _TEMPORARY.fullmatch(path.name)
        if match is None or _process_alive(int(match.group("pid"))):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError:  # read-only or someone else's: left as it is, never an error
            continue
        removed.append(path)
    return removed


class OutputFolderError(Exception):
    """An output folder that :func:`write_registry` could not write; the message says why, in one line."""


def check_registry_target(out_dir: str | Path) -> Path:
    """Check, before any long work, that :func:`write_registry` can write ``out_dir``.

    Nothing is created or left behind: the check makes and removes a hidden temporary
    folder (:func:`temporary_sibling`) beside ``out_dir``, or beside the nearest of its
    parents that exists, which is what the write itself will need.  That is the only
    reliable test of a read-only file system, and of permissions the superuser ignores.

    Parameters
    ----------
    out_dir : path-like
        The folder to create or replace.

    Returns
    -------
    pathlib.Path
        ``out_dir`` as an absolute path (a symbolic link resolved, as the write does).

    Raises
    ------
    OutputFolderError
        If ``out_dir`` is a file; an existing folder that is not empty and holds no
        ``MANIFEST.sha256`` (not an extract written here: writing would replace everything
        in it); a parent is a file; or the folder it would be written in is not writable.
    """
    out_dir = Path(os.path.abspath(out_dir))
    try:
        if out_dir.is_symlink():
            out_dir = out_dir.resolve()
        if out_dir.exists():
            if not out_dir.is_dir():
                raise OutputFolderError(f"{out_dir} exists and is not a folder")
            if any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).is_file():
                raise OutputFolderError(
                    f"{out_dir} is not empty and holds no {MANIFEST_FILE} (not an extract written by alsmeds); "
                    "writing would replace everything in it: choose a new or empty folder"
                )
        _probe_beside(out_dir)
    except OSError as err:
        raise OutputFolderError(f"cannot write {out_dir}: {err.strerror or err}") from err
    return out_dir


def _probe_beside(path: Path) -> None:
    """Make and remove a hidden folder where ``path`` would be created: in its nearest existing parent."""
    child, parent = path, path.parent
    while not parent.exists():
        child, parent = parent, parent.parent
    if not parent.is_dir():
        raise OutputFolderError(f"cannot create {path}: {parent} is a file, not a folder")
    probe = _sibling(child, "tmp")
    os.mkdir(probe)
    os.rmdir(probe)


def check_writable_folder(folder: str | Path) -> Path:
    """Check, before any long work, that files can be written into ``folder`` (made if missing).

    As :func:`check_registry_target`, by making and removing a hidden temporary folder:
    inside ``folder`` when it exists, else in its nearest existing parent.  Nothing is
    created or left behind.

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    pathlib.Path
        ``folder`` as an absolute path.

    Raises
    ------
    OutputFolderError
        If ``folder`` or a parent is a file, or it cannot be written (read-only).
    """
    folder = Path(os.path.abspath(folder))
    try:
        if not folder.exists():
            _probe_beside(folder)
        elif not folder.is_dir():
            raise OutputFolderError(f"{folder} exists and is not a folder")
        else:
            probe = _sibling(folder / "probe", "tmp")
            os.mkdir(probe)
            os.rmdir(probe)
    except OSError as err:
        raise OutputFolderError(f"cannot write {folder}: {err.strerror or err}") from err
    return folder


def _check_name(name: str, what: str) -> None:
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"invalid {what} {name!r}: use letters, digits, '_', '.', '-' and no path separators")


def write_registry(
    out_dir: str | Path,
    tables: Mapping[str, pd.DataFrame],
    metadata: Mapping[str, Any],
    extra_json: Mapping[str, Any] | None = None,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write a register extract folder, deterministically and atomically.

    Every table is written as ``<name>.csv`` in the deterministic CSV format (see
    the module docstring), ``metadata`` as ``extract.json``, each item of
    ``extra_json`` as a JSON file of that name, each item of ``extra_tables`` as a
    CSV file of that name, and ``MANIFEST.sha256`` with the
    SHA-256 of every file written (``sha256sum`` format, sorted by file name; check
    it with ``sha256sum -c MANIFEST.sha256`` or :func:`verify_manifest`).

    The files are written to a new hidden sibling folder, which then replaces
    ``out_dir`` (the old folder is renamed away, the new one renamed in, the old one
    deleted).  If anything fails, ``out_dir`` is left as it was and the temporary
    folder is removed.  The tables are not validated: call
    :func:`alsmeds.data.validate.validate_tables` first if they should be.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The folder to create or replace.  Everything in an existing folder is
        replaced.
    tables : mapping of str to pandas.DataFrame
        Tables by name (the index is not written).
    metadata : mapping
        The ``extract.json`` content; dates may be ``date`` objects or ISO strings.
    extra_json : mapping of str to object, optional
        More JSON files, file name -> JSON-serialisable object, e.g.
        ``{"truth.json": {...}}``.
    extra_tables : mapping of str to pandas.DataFrame, optional
        More CSV files (not tables of the contract), file name -> DataFrame, e.g.
        ``{"truth_people.csv": people}``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    ValueError
        If a table or file name is unsafe or clashes with another.
    NotADirectoryError
        If ``out_dir`` exists and is not a folder.
    """
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a folder")
    names: dict[str, str] = {}
    for name in tables:
        _check_name(name, "table name")
        names[f"{name}.csv"] = f"table {name!r}"
    extra = dict(extra_json or {})
    extra_csv = dict(extra_tables or {})
    for file_name in [*extra, *extra_csv]:
        _check_name(file_name, "file name")
        if file_name in names or file_name in (schema.EXTRACT_METADATA_FILE, MANIFEST_FILE):
            raise ValueError(f"extra file {file_name!r} clashes with another file of the extract")
        names[file_name] = "extra file"
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    tmp = _sibling(out_dir, "tmp")
    os.mkdir(tmp)
    old: Path | None = None
    try:
        for name in sorted(tables):
            _write_table_csv(tables[name], tmp / f"{name}.csv")
        _write_text(tmp / schema.EXTRACT_METADATA_FILE, json_text(_metadata_json(metadata)))
        for file_name in sorted(extra):
            _write_text(tmp / file_name, json_text(extra[file_name]))
        for file_name in sorted(extra_csv):
            _write_table_csv(extra_csv[file_name], tmp / file_name)
        written = sorted(p.name for p in tmp.iterdir())
        manifest = "".join(f"{sha256_file(tmp / n)}  {n}\n" for n in written)
        _write_text(tmp / MANIFEST_FILE, manifest)
        old = _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        try:
            shutil.rmtree(old)
        except OSError as err:  # the new extract is in place; only clean-up failed
            warnings.warn(f"could not remove the previous extract at {old}: {err}", stacklevel=2)
    return out_dir


def _swap_in(new: Path, target: Path) -> Path | None:
    """Put folder ``new`` in place of ``target``; return where the old ``target`` went (None if none)."""
    _fsync_dir(new)
    if not target.exists():
        os.rename(new, target)
        _fsync_dir(target.parent)
        return None
    old = _sibling(target, "old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    _fsync_dir(target.parent)
    return old


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write an object as deterministic JSON (see :func:`json_text`), atomically.

    The text goes to a temporary file in the same folder, which then replaces
    ``path`` (:func:`os.replace`), so readers never see a half-written file.

    Parameters
    ----------
    path : str or pathlib.Path
    obj : JSON-serialisable object

    Returns
    -------
    pathlib.Path
    """
    text = json_text(obj)
    return _write_atomic(Path(path), lambda fh: fh.write(text))


def write_csv_atomic(path: str | Path, df: pd.DataFrame, float_format: str = FLOAT_FORMAT) -> Path:
    """Write a DataFrame in the deterministic CSV format, atomically.

    Parameters
    ----------
    path : str or pathlib.Path
    df : pandas.DataFrame
        Written without its index (reset it first to keep it).
    float_format : str, default :data:`FLOAT_FORMAT`
        printf-style float format, e.g. ``"%.10g"`` for estimates that need more digits.

    Returns
    -------
    pathlib.Path
    """
    return _write_atomic(Path(path), lambda fh: write_csv(df, fh, float_format=float_format))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text (UTF-8, as given) atomically: temporary file in the same folder, then rename."""
    return _write_atomic(Path(path), lambda fh: fh.write(text))


def write_parquet_atomic(path: str | Path, df: pd.DataFrame) -> Path:
    """Write a DataFrame as Parquet (no index), atomically: temporary file, then rename.

    Parameters
    ----------
    path : str or pathlib.Path
    df : pandas.DataFrame

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def verify_manifest(data_dir: str | Path) -> list[str]:
    """Check the files of a folder against its ``MANIFEST.sha256``.

    Parameters
    ----------
    data_dir : str or pathlib.Path

    Returns
    -------
    list of str
        Human-readable problems: the manifest missing or malformed, a listed file
        missing, a checksum mismatch, a file in the folder that the manifest does not
        list (hidden files are ignored).  Empty if all is well.
    """
    data_dir = Path(data_dir)
    manifest = data_dir / MANIFEST_FILE
    if not manifest.is_file():
        return [f"{MANIFEST_FILE} is missing from {data_dir}"]
    problems: list[str] = []
    entries: dict[str, str] = {}
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            problems.append(f"{MANIFEST_FILE} line {lineno}: malformed line {line!r} (expected '<sha256>  <file>')")
            continue
        digest, name = match.group(1).lower(), match.group(2)
        if name in entries:
            problems.append(f"{MANIFEST_FILE} line {lineno}: {name} is listed more than once")
        entries[name] = digest
    for name, digest in sorted(entries.items()):
        path = data_dir / name
        if not path.is_file():
            problems.append(f"{name}: listed in {MANIFEST_FILE} but missing")
            continue
        actual = sha256_file(path)
        if actual != digest:
            problems.append(f"{name}: checksum mismatch (manifest {digest}, file {actual}); the file has changed")
    for path in sorted(data_dir.iterdir()):
        if path.name == MANIFEST_FILE or path.name.startswith(".") or not path.is_file():
            continue
        if path.name not in entries:
            problems.append(f"{path.name}: file not listed in {MANIFEST_FILE}")
    return problems
