"""Keys of build artefacts (under ``build/``): the code version of the package and of a data folder.

The analysis frames are not cached on disk: :class:`alsmeds.study.Study` builds each one
on first use and keeps it in memory (the analysis table takes about 0.3 s at the paper's
sample size).  The one artefact the pipeline keeps between runs is a simulated data set
of a non-default seed or scale (:mod:`alsmeds.pipeline.datasets`), which is reused only
when it was made by the same code: :func:`code_fingerprint`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import alsmeds

#: The package's files whose content makes its code version (sources and code lists).
CODE_SUFFIXES = (".py", ".csv", ".R")


def code_fingerprint(package_dir: str | Path | None = None) -> str:
    """SHA-256 over the package version and every source file of the package (path and content).

    ``alsmeds.__version__`` does not change with each edit during development; the
    sources do.  Any change of the generator, the models it fits for the planted truth,
    or anything else in the package gives another fingerprint.

    Parameters
    ----------
    package_dir : path-like, optional
        Default: the installed ``alsmeds`` package folder.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    root = Path(package_dir) if package_dir is not None else Path(alsmeds.__file__).resolve().parent
    digest = hashlib.sha256(f"alsmeds {alsmeds.__version__}\n".encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES):
        if "__pycache__" in path.parts:
            continue
        digest.update(f"{path.relative_to(root).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def folder_fingerprint(folder: str | Path) -> str:
    """SHA-256 over every file of a data folder (relative path and content), recursively.

    What a resumed analysis run compares to know its inputs did not change (an extract
    of a few tens of megabytes hashes in well under a second).
    """
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


__all__ = ["CODE_SUFFIXES", "code_fingerprint", "folder_fingerprint"]
