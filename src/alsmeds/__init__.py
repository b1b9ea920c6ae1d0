"""alsmeds: the analysis package of the ALS psychiatric-medication reproducibility bundle.

>>> from alsmeds import Study
>>> study = Study.synthetic()          # doctest: +SKIP

:class:`alsmeds.study.Study` is the public face: a register extract (or the synthetic
data), its planted truth, the exposure rules and every frame derived from them.  It is
imported on first use, so that ``import alsmeds`` (and the command line) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Study", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from alsmeds.study import Study


def __getattr__(name: str) -> Any:
    if name == "Study":
        from alsmeds.study import Study

        return Study
    raise AttributeError(f"module 'alsmeds' has no attribute {name!r}")
