"""Reference implementations in R, called through ``Rscript`` on CSV files (see :mod:`alsmeds.reference.r`)."""

from alsmeds.reference.r import (
    ClogitSpec,
    RClogitResult,
    RError,
    RNotAvailableError,
    r_available,
    r_clogit,
    r_clogit_many,
    run_r_script,
    script_path,
)

__all__ = [
    "ClogitSpec",
    "RClogitResult",
    "RError",
    "RNotAvailableError",
    "r_available",
    "r_clogit",
    "r_clogit_many",
    "run_r_script",
    "script_path",
]
