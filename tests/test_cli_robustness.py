"""Plain mistakes and interruptions on the command line (issue 21).

A plain mistake gets one line on stderr and a non-zero exit code (2 for usage or invalid
input), never a traceback, and is found before any long work starts; nothing is
half-written; a run never writes into its input.  The simulations here are monkeypatched
or tiny: ``simulate`` at any scale takes about 40 s (its planted truth is computed at 100
times the paper's size).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alsmeds.data import write


def _dead_pid() -> int:
    """The pid of a process that has ended (for a stale temporary)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_folder_that_cannot_be_cleaned_is_left_without_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale_file = tmp_path / f".x.csv.tmp-{_dead_pid()}-00ff00ff"
    stale_file.write_text("half")
    stale_dir = tmp_path / f".out.tmp-{_dead_pid()}-00ff00ff"
    stale_dir.mkdir()
    (stale_dir / "a.csv").write_text("half")

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(write.shutil, "rmtree", read_only)
    assert write.remove_stale_temporaries(tmp_path) == []
    monkeypatch.setattr(Path, "iterdir", read_only)
    assert write.remove_stale_temporaries(tmp_path) == []


def test_check_writable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert write.check_writable_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert write.check_writable_folder(tmp_path) == tmp_path
    assert sorted(tmp_path.iterdir()) == []  # nothing made, nothing left
    (tmp_path / "file").write_text("x")
    with pytest.raises(write.OutputFolderError, match="exists and is not a folder"):
        write.check_writable_folder(tmp_path / "file")

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(write.os, "mkdir", read_only)
    with pytest.raises(write.OutputFolderError, match=f"cannot write {tmp_path}: Read-only file system"):
        write.check_writable_folder(tmp_path)
