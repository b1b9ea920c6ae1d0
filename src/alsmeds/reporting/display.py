"""Tables for people: readable labels, rounded numbers, rendered as HTML in a notebook.

A notebook cell that ends with ``show_table(frame, caption=...)`` shows an HTML table
in JupyterLab and on the site, and the same table as aligned text wherever HTML is not
rendered (a terminal, a diff, nbval's comparison of outputs).  Codes in the results
vocabulary (``gt1``, ``0_1``, ``population``) are replaced by the names of
:mod:`alsmeds.labels`; the results files keep the codes.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from alsmeds.formatting import fixed, is_float
from alsmeds.labels import COLUMN_NAMES, VOCABULARIES, label

__all__ = ["Table", "readable_frame", "show_table"]


def readable_frame(frame: pd.DataFrame, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with coded values, index levels and column names replaced by readable names.

    Parameters
    ----------
    frame : DataFrame
    columns : dict, optional
        Extra or overriding column headers (``COLUMN_NAMES`` otherwise; unknown columns
        keep their names).
    """
    out = frame.copy()
    for name, vocabulary in VOCABULARIES.items():
        if name in out.columns:
            out[name] = [label(vocabulary, v) for v in out[name]]
    if isinstance(out.index, pd.MultiIndex):
        out.index = out.index.set_levels(
            [
                [label(VOCABULARIES[n], v) for v in lev] if n in VOCABULARIES else lev
                for n, lev in zip(out.index.names, out.index.levels, strict=True)
            ]
        )
    elif out.index.name in VOCABULARIES:
        out.index = [label(VOCABULARIES[out.index.name], v) for v in out.index]
        out.index.name = None
    headers = {**COLUMN_NAMES, **(columns or {})}
    out = out.rename(columns=lambda c: headers.get(c, c))
    if out.index.names is not None:
        out.index.names = [headers.get(n, n) if n is not None else None for n in out.index.names]
    return out


class Table:
    """A rendered table: HTML in a notebook (``_repr_html_``), aligned text elsewhere (``__repr__``).

    The HTML is deterministic (no random element ids), so an executed notebook's output
    is the same on every run and nbval can compare it.
    """

    def __init__(self, frame: pd.DataFrame, caption: str | None = None, index: bool = True, digits: int = 2):
        self.frame = frame
        self.caption = caption
        self.index = index
        self.digits = digits

    def _formatted(self) -> pd.DataFrame:
        def fmt(v: object) -> object:
            if isinstance(v, (bool, np.bool_)):
                return "yes" if v else "no"
            if is_float(v):
                return fixed(v, self.digits)  # no sign on a rounded zero (alsmeds.formatting)
            return v

        return self.frame.map(fmt)

    def _repr_html_(self) -> str:
        body = self._formatted().to_html(index=self.index, escape=True, border=0, classes="alsmeds-table", na_rep="")
        if self.caption:
            opening = body.index(">") + 1
            body = f"{body[:opening]}\n  <caption>{html.escape(self.caption)}</caption>{body[opening:]}"
        return body

    def __repr__(self) -> str:
        text = self._formatted().to_string(index=self.index, na_rep="")
        return f"{self.caption}\n{text}" if self.caption else text


def show_table(
    frame: pd.DataFrame,
    caption: str | None = None,
    index: bool = True,
    digits: int = 2,
    columns: dict[str, str] | None = None,
) -> Table:
    """Readable labels (:func:`readable_frame`), numbers to ``digits`` decimals, as a :class:`Table`.

    Parameters
    ----------
    frame : DataFrame
        A table in the results vocabulary (codes such as ``gt1`` are translated).
    caption : str, optional
        Shown above the table.
    index : bool
        Show the index (e.g. Table 2's class and window).
    digits : int
        Decimals of floating-point numbers.
    columns : dict, optional
        Extra or overriding column headers.
    """
    return Table(readable_frame(frame, columns), caption=caption, index=index, digits=digits)
