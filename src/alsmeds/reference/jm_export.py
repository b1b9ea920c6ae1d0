"""The committed study's joint-model frames as CSV, for R JM (``reference/R/jm_parameterizations.R als``).

Usage::

    .venv/bin/python -m alsmeds.reference.jm_export build/jm_als

writes ``build/jm_als/long.csv`` (one row per ALSFRS-R visit) and ``build/jm_als/surv.csv`` (one row
per patient) from ``Study.from_parameters().joint_data`` (the committed synthetic extract,
``data/synthetic``), with the columns of :data:`alsmeds.derive.joint_data.JOINT_LONG_COLUMNS` and
``JOINT_SURV_COLUMNS`` (time in months since diagnosis), floats at 17 significant digits so that R
reads the same doubles.  The R script records the files' MD5 sums; ``tests/test_joint_jm_anchors.py``
writes the frames again and checks the sums, so a change of the committed data or of the frames'
rules shows as a stale anchor rather than as a disagreement with JM.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

from alsmeds.derive.joint_data import JOINT_LONG_COLUMNS, JOINT_SURV_COLUMNS, JointFrames

#: File names of the two frames.
FILES = {"long": "long.csv", "surv": "surv.csv"}


def committed_frames() -> JointFrames:
    """The joint-model frames of the committed study (``Study.from_parameters().joint_data``)."""
    from alsmeds import Study

    return Study.from_parameters().joint_data


def export_frames(frames: JointFrames, folder: str | Path) -> dict[str, Path]:
    """Write the two frames as CSV into ``folder`` (created); return their paths.

    Parameters
    ----------
    frames : JointFrames
        :func:`alsmeds.derive.joint_data.build_joint_frames` output.
    folder : path-like
        Output folder.

    Returns
    -------
    dict
        ``{"long": path, "surv": path}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, frame, columns in (
        ("long", frames.long, JOINT_LONG_COLUMNS),
        ("surv", frames.surv, JOINT_SURV_COLUMNS),
    ):
        path = folder / FILES[name]
        table: pd.DataFrame = frame[list(columns)]
        table.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
        out[name] = path
    return out


def md5(path: str | Path) -> str:
    """MD5 of a file's bytes (R's ``tools::md5sum``)."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="build/jm_als", help="output folder (default build/jm_als)")
    args = parser.parse_args(argv)
    frames = committed_frames()
    paths = export_frames(frames, args.folder)
    for path in paths.values():
        print(f"{path}: {md5(path)}")
    print(f"{frames.n_patients} patients, {len(frames.long)} visits, {frames.n_events} events")


if __name__ == "__main__":
    main()
