"""The names of exposure terms: ``<class>_<window>`` (e.g. ``anxiolytics_gt1``, ``hypnotics_0_1``).

The risk models name each exposure indicator after its drug class and exposure window
(:mod:`alsmeds.models.design`); :func:`split_term` is the one place that reads such a
name back.  Windows may contain underscores (``0_1``, ``1_5``), classes do not, so the
split is on the class name, not on the first underscore.
"""

from __future__ import annotations

from collections.abc import Sequence

from alsmeds.constants import CLASSES


def split_term(term: str, classes: Sequence[str] = CLASSES) -> tuple[str, str]:
    """``"<class>_<window>"`` -> ``(class, window)``.

    Parameters
    ----------
    term : str
        An exposure term, e.g. ``"hypnotics_1_5"`` -> ``("hypnotics", "1_5")``.
    classes : sequence of str
        The drug classes (default :data:`alsmeds.constants.CLASSES`).

    Raises
    ------
    ValueError
        When ``term`` does not start with a class followed by ``_``.
    """
    for k in classes:
        if term.startswith(k + "_") and len(term) > len(k) + 1:
            return k, term[len(k) + 1 :]
    raise ValueError(f"{term!r} is not an exposure term <class>_<window> of the classes {', '.join(classes)}")
