"""The panel of negative and positive controls of empirical calibration (issue 25): planted strengths and use.

The mechanism is :class:`~.parameters.PanelParameters`'s.  :func:`panel_classes` draws
each class's strengths once from the parameters (``strength_seed``, never the data's seed),
:func:`draw_panel` draws each person's use of each class after the matched sets, on the
panel's own random streams, and :func:`panel_truth` is what ``truth.json`` records of it
(``estimands["panel"]``: per class the planted odds ratio, the loadings and the planted
systematic error split by path; the planted null).  The numerically implied estimands of
the panel (what the study's model converges to for each class) are computed in the layer
above, :mod:`alsmeds.estimands.risk`.

The PPIs, the first negative control, keep their own mechanism
(:class:`~.parameters.NegativeControlParameters`, drawn in :mod:`.population`): the panel
lists them with their loading on ``U`` and draws nothing for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from alsmeds.derive.codelists import panel_codelist
from alsmeds.derive.exposure import lagged_use, window_codes
from alsmeds.simulate.draws import first_use as _first_use
from alsmeds.simulate.draws import rng_for
from alsmeds.simulate.parameters import NEGATIVE_CONTROL, PANEL_PATHS, SimulationParameters

#: Name of the random stream of the strengths (keyed by ``PanelParameters.strength_seed``).
STRENGTH_STEP = "panel/strengths"
#: Variance of ``female`` (a share near 1/2) and of ``(age - 65) / 10`` among controls (ages 67 +/- 11.8), which
#: enter the latent's standard deviation in the planted linearisation.
FEMALE_VARIANCE = 0.25
AGE_DECADE_VARIANCE = 1.4
#: Mean of ``female`` and of ``(age - 65) / 10`` among population controls (about 47% women, mean age 67.5).
FEMALE_MEAN = 0.47
AGE_DECADE_MEAN = 0.25


@dataclass(frozen=True)
class PanelClass:
    """One class of the panel with its planted strengths.

    Attributes
    ----------
    group, level, atc_prefix : str
        From the code list (``negative_control_panel.csv``).
    log_or_als : float
        Planted log odds ratio of ALS for lagged use (0 for a negative control).
    drawn : bool
        False for the PPIs, whose use :class:`~.parameters.NegativeControlParameters` draws.
    user_share : float
        Target share of users among population controls.
    intercept, per_familial_factor, per_liability, per_propensity, female, per_decade_of_age : float
        The latent's coefficients (:class:`~.parameters.PanelParameters`).
    prodromal_probability : float
        Probability that a case who is not a user starts in the year before diagnosis.
    planted_systematic_error : float
        The drawn systematic error ``b_j`` of the adjusted lagged population comparison, which the loadings
        were solved for (linearised; NaN for the PPIs, whose loading is not drawn).
    bias_components : dict of str to float
        ``b_j`` split over :data:`~.parameters.PANEL_PATHS` in proportion to each path's shift of the latent
        among cases (``loading x case_shift``); they sum to ``b_j``.
    """

    group: str
    level: str
    atc_prefix: str
    log_or_als: float
    drawn: bool
    user_share: float
    intercept: float
    per_familial_factor: float
    per_liability: float
    per_propensity: float
    female: float
    per_decade_of_age: float
    prodromal_probability: float
    planted_systematic_error: float
    bias_components: dict[str, float] = field(default_factory=dict)

    @property
    def loadings(self) -> dict[str, float]:
        """The loading of each path of confounding."""
        return dict(zip(PANEL_PATHS, (self.per_familial_factor, self.per_liability, self.per_propensity), strict=True))


def _latent_sd(fam: float, lia: float, pro: float, female: float, age: float, r: float) -> float:
    """SD of the latent among controls: ``U`` and ``Psi`` correlate ``r``; ``S`` and the noise are independent."""
    return math.sqrt(
        1
        + fam * fam
        + lia * lia
        + pro * pro
        + 2 * r * fam * lia
        + female**2 * FEMALE_VARIANCE
        + age**2 * AGE_DECADE_VARIANCE
    )


def planted_log_or(p: float, z_shift: float) -> float:
    """Log odds ratio of a probit exposure of prevalence ``p`` whose standardised latent is ``z_shift`` higher in cases.

    ``logit Phi(Phi^-1(p) + z_shift) - logit p``: the linearisation the strengths are solved with.
    """
    return float(special.logit(special.ndtr(special.ndtri(p) + z_shift)) - special.logit(p))


def _solve_familial(
    b: float, p: float, lia: float, pro: float, female: float, age: float, shift: dict[str, float], r: float
) -> float:
    """The loading on ``U`` at which the planted log odds ratio is ``b``, given the other loadings."""

    def gap(m: float) -> float:
        sd = _latent_sd(m, lia, pro, female, age, r)
        z = (m * shift["familial"] + lia * shift["liability"] + pro * shift["propensity"]) / sd
        return planted_log_or(p, z) - b

    low, high = -4.0, 4.0
    if gap(low) > 0:
        return low
    if gap(high) < 0:
        return high
    return float(optimize.brentq(gap, low, high, xtol=1e-12))


def panel_classes(params: SimulationParameters) -> list[PanelClass]:
    """The classes of the panel with their planted strengths (drawn once from ``params.panel.strength_seed``).

    For each drawn class, in the code list's order: the systematic error ``b ~ N(null_mean, null_sd^2)``,
    the share of users ``p ~ U(user_share_range)``, the loadings on the liability and the propensity
    ``~ N(mean, sd^2)`` (:attr:`~.parameters.PanelParameters.liability_loading`,
    :attr:`~.parameters.PanelParameters.propensity_loading`) and on sex and age; the loading on ``U`` is then
    solved so that the linearised log odds ratio (:func:`planted_log_or`) is ``b``.

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    list of PanelClass
        Every row of the code list, the PPIs first (not drawn).

    Raises
    ------
    ValueError
        When the code list's ``true_or`` of a positive control is not ``exp`` of
        :attr:`~.parameters.PanelParameters.positive_log_or`, or a prodromal class is not in the list.
    """
    panel = params.panel
    codes = panel_codelist()
    positives = codes[codes["level"] == "positive_control"]
    planted = {g: math.exp(v) for g, v in panel.positive_log_or.items()}
    listed = dict(zip(positives["group"], positives["true_or"], strict=True))
    if set(planted) != set(listed) or any(not math.isclose(planted[g], listed[g], rel_tol=1e-9) for g in listed):
        raise ValueError(f"positive controls: the code list plants {listed}, the parameters {planted}")
    unknown = sorted(set(panel.prodromal_probability) - set(codes["group"]))
    if unknown:
        raise ValueError(f"prodromal classes not in the panel's code list: {unknown}")
    rng = rng_for(panel.strength_seed, STRENGTH_STEP)
    r = params.family.familial_share_of_liability
    nc = params.negative_control
    out = []
    for row in codes.itertuples(index=False):
        log_or = float(panel.positive_log_or.get(row.group, 0.0))
        if row.group == NEGATIVE_CONTROL:
            out.append(
                PanelClass(
                    group=row.group,
                    level=row.level,
                    atc_prefix=row.atc_prefix,
                    log_or_als=float(nc.log_or_als),
                    drawn=False,
                    user_share=math.nan,
                    intercept=nc.intercept,
                    per_familial_factor=nc.per_familial_factor,
                    per_liability=0.0,
                    per_propensity=0.0,
                    female=nc.female,
                    per_decade_of_age=nc.per_decade_of_age,
                    prodromal_probability=0.0,
                    planted_systematic_error=math.nan,
                    bias_components={},
                )
            )
            continue
        # The same number of draws for every class, in one order, so a change of one class's use moves no other.
        b = panel.null_mean + panel.null_sd * rng.standard_normal()
        p = rng.uniform(*panel.user_share_range)
        lia = panel.liability_loading[0] + panel.liability_loading[1] * rng.standard_normal()
        pro = panel.propensity_loading[0] + panel.propensity_loading[1] * rng.standard_normal()
        female = panel.female_sd * rng.standard_normal()
        age = panel.per_decade_of_age_sd * rng.standard_normal()
        m = _solve_familial(b, p, lia, pro, female, age, panel.case_shift, r)
        sd = _latent_sd(m, lia, pro, female, age, r)
        intercept = special.ndtri(p) * sd - female * FEMALE_MEAN - age * AGE_DECADE_MEAN
        shifts = {"familial": m * panel.case_shift["familial"], "liability": lia * panel.case_shift["liability"]}
        shifts["propensity"] = pro * panel.case_shift["propensity"]
        total = sum(shifts.values())
        achieved = planted_log_or(p, total / sd)
        components = {k: (achieved * v / total if total != 0 else 0.0) for k, v in shifts.items()}
        out.append(
            PanelClass(
                group=row.group,
                level=row.level,
                atc_prefix=row.atc_prefix,
                log_or_als=log_or,
                drawn=True,
                user_share=float(p),
                intercept=float(intercept),
                per_familial_factor=float(m),
                per_liability=float(lia),
                per_propensity=float(pro),
                female=float(female),
                per_decade_of_age=float(age),
                prodromal_probability=float(panel.prodromal_probability.get(row.group, 0.0)),
                planted_systematic_error=float(achieved),
                bias_components=components,
            )
        )
    return out


def _state(first_use: np.ndarray, index_date: np.ndarray) -> np.ndarray:
    """Lagged use (first qualifying use more than a year before the index date), by the study's definition."""
    return lagged_use(first_use, index_date) == 1


def _draw_class(
    rng: np.random.Generator, params: SimulationParameters, klass: PanelClass, people: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Window code and date of first qualifying use of one class for every person (module docstring)."""
    n = len(people)
    age = people["age"].to_numpy(dtype=float)
    female = ~people["male"].to_numpy(dtype=bool)
    index = people["index_date"].to_numpy().astype("datetime64[D]")
    base = (
        klass.intercept
        + klass.per_familial_factor * people["familial"].to_numpy(dtype=float)
        + klass.per_liability * people["liability"].to_numpy(dtype=float)
        + klass.per_propensity * people["propensity"].to_numpy(dtype=float)
        + klass.female * female
        + klass.per_decade_of_age * (age - 65) / 10
    )
    _, first = _first_use(rng, params, base + rng.standard_normal(n) > 0, index)
    case = people["role"].to_numpy() == "case"
    if klass.log_or_als != 0:
        # A case's state is tilted by exp(beta L): redraw a case until accepted with probability exp(beta (L - 1)).
        beta = klass.log_or_als
        pending = np.flatnonzero(case)
        while pending.size:
            accept_p = np.exp(beta * (_state(first[pending], index[pending]).astype(float) - 1.0))
            accepted = rng.random(pending.size) < accept_p
            pending = pending[~accepted]
            if pending.size:
                latent = base[pending] + rng.standard_normal(pending.size)
                _, first[pending] = _first_use(rng, params, latent > 0, index[pending])
    if klass.prodromal_probability > 0:
        # Prodromal prescribing: a case who is not a user by its index date starts in the year before it.
        never = np.flatnonzero(case & np.isnat(first))
        starts = never[rng.random(never.size) < klass.prodromal_probability]
        first[starts] = index[starts] - rng.integers(1, 365, starts.size).astype("timedelta64[D]")
    return window_codes(first, index), first


def draw_panel(params: SimulationParameters, seed: int, people: pd.DataFrame, step_prefix: str = "") -> pd.DataFrame:
    """Each person's use of each drawn class of the panel, as columns ``cat_<group>`` and ``first_use_<group>``.

    Parameters
    ----------
    params : SimulationParameters
    seed : int
        The data's master seed; class ``g`` draws from ``rng_for(seed, step_prefix + "panel/<g>")``.
    people : DataFrame
        The matched sets (:func:`~.population.simulate_study_population`): role, age, male, familial,
        liability, propensity, index_date.
    step_prefix : str
        Prefix of the random-stream names (the truth sample's ``truth/``).

    Returns
    -------
    DataFrame
        ``people`` with two columns per drawn class appended (the PPIs are already there).
    """
    columns = {}
    for klass in panel_classes(params):
        if klass.drawn:
            rng = rng_for(seed, f"{step_prefix}panel/{klass.group}")
            columns[f"cat_{klass.group}"], columns[f"first_use_{klass.group}"] = _draw_class(rng, params, klass, people)
    return pd.concat([people, pd.DataFrame(columns, index=people.index)], axis=1)


def panel_groups(params: SimulationParameters) -> list[str]:
    """The panel's classes, the PPIs first; empty when the panel is switched off (``params.panel.enabled``)."""
    return [k.group for k in panel_classes(params)] if params.panel.enabled else []


def panel_truth(params: SimulationParameters) -> dict:
    """What ``truth.json`` records of the panel (``estimands["panel"]``); empty when the panel is off.

    Returns
    -------
    dict
        ``classes``: per class ``level``, ``atc_prefix``, ``planted_log_or`` (0 or the positive control's),
        ``planted_or``, ``user_share``, the loadings (``per_familial_factor``, ``per_liability``,
        ``per_propensity``, ``female``, ``per_decade_of_age``, ``intercept``), ``prodromal_probability``,
        ``planted_systematic_error`` and ``bias_components`` (by path; sum = the planted systematic error);
        ``planted_null``: the distribution the systematic errors were drawn from (``mean``, ``sd``; log odds
        ratio of lagged use, adjusted population comparison), with the mean and SD (ddof 0) of the drawn values
        (``drawn_mean``, ``drawn_sd``, over the drawn classes: negative and positive); ``note``.
    """
    if not params.panel.enabled:
        return {}
    classes = panel_classes(params)
    drawn = np.array([k.planted_systematic_error for k in classes if k.drawn])
    return {
        "classes": {
            k.group: {
                "level": k.level,
                "atc_prefix": k.atc_prefix,
                "planted_log_or": k.log_or_als,
                "planted_or": math.exp(k.log_or_als),
                "drawn": k.drawn,
                "user_share": None if math.isnan(k.user_share) else k.user_share,
                "intercept": k.intercept,
                "per_familial_factor": k.per_familial_factor,
                "per_liability": k.per_liability,
                "per_propensity": k.per_propensity,
                "female": k.female,
                "per_decade_of_age": k.per_decade_of_age,
                "prodromal_probability": k.prodromal_probability,
                "planted_systematic_error": None
                if math.isnan(k.planted_systematic_error)
                else k.planted_systematic_error,
                "bias_components": k.bias_components,
            }
            for k in classes
        },
        "planted_null": {
            "mean": params.panel.null_mean,
            "sd": params.panel.null_sd,
            "drawn_mean": float(drawn.mean()),
            "drawn_sd": float(drawn.std()),
            "n_drawn": int(drawn.size),
            "scale": "log odds ratio of lagged use, adjusted model, population comparison",
        },
        "note": (
            "planted_systematic_error: the drawn systematic error each class's loadings were solved for by a "
            "linearisation (simulate.panel.planted_log_or); the implied (numerical) estimands of every class and "
            "comparison are estimands['panel_implied']. The PPIs keep NegativeControlParameters (not drawn)."
        ),
    }


__all__ = ["PanelClass", "draw_panel", "panel_classes", "panel_groups", "panel_truth", "planted_log_or"]
