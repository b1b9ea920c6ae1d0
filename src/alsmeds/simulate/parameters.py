"""Planted parameters of the synthetic registry.

Every number the generator uses lives here, with its source: **P** published
(Chourpiliadis et al. 2025), **D** derived from published numbers, or **A** an
assumption of this bundle (the paper's full tables and supplement were not
available).  ``truth.json`` written next to the data records all of them, together
with the estimands they imply.

Conventions: odds ratios and hazard ratios are stored on the log scale as
``log_*``; times of the prognosis model are in months since diagnosis.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date

from alsmeds.constants import CATEGORY_CODES, CLASS_ATC, CLASSES, NEGATIVE_CONTROL, WINDOW_LABELS, WINDOWS
from alsmeds.precision import round_significant
from alsmeds.published import PUBLISHED_PROGNOSIS, published_value

#: Substances rendered per class, with their share of dispensings (A).
SUBSTANCES = {
    "anxiolytics": {"N05BA04": 0.45, "N05BA01": 0.25, "N05BA12": 0.10, "N05BB01": 0.20},
    "hypnotics": {"N05CF01": 0.50, "N05CF02": 0.20, "N05CD02": 0.10, "N05CH01": 0.15, "N05CM02": 0.05},
    "antidepressants": {
        "N06AB04": 0.25,
        "N06AB06": 0.25,
        "N06AB10": 0.15,
        "N06AX11": 0.20,
        "N06AX16": 0.10,
        "N06AA09": 0.05,
    },
    # The negative control (constants.NEGATIVE_CONTROL): omeprazole, esomeprazole, pantoprazole, lansoprazole (A).
    NEGATIVE_CONTROL: {"A02BC01": 0.45, "A02BC05": 0.30, "A02BC02": 0.20, "A02BC03": 0.05},
}
#: Dispensings of other drugs, which no study class's code list counts as exposure (A).  A02BC01 (omeprazole)
#: is a proton-pump inhibitor: these sporadic dispensings count towards the negative control by the rule of two
#: like any other PPI dispensing (see :class:`NegativeControlParameters`).
OTHER_ATC = {"C10AA01": 0.3, "N02BE01": 0.3, "C09AA02": 0.2, "A02BC01": 0.2}


def _log(x: float) -> float:
    return float(math.log(x))


#: The association structures of the prognosis model, as :func:`association_structure` names them.
ASSOCIATION_STRUCTURES = ("value", "slope", "both", "none")


def association_structure(value: float, slope: float) -> str:
    """The association structure planted by a current-value and a current-slope association.

    Parameters
    ----------
    value : float
        Log hazard ratio per ALSFRS-R point of the current value (``association``).
    slope : float
        Log hazard ratio per ALSFRS-R point per month of the current slope (``association_slope``).

    Returns
    -------
    str
        ``"both"`` when both are non-zero, ``"value"`` or ``"slope"`` when one is, ``"none"`` when neither is.
    """
    if value != 0 and slope != 0:
        return "both"
    if value != 0:
        return "value"
    return "slope" if slope != 0 else "none"


@dataclass
class DesignParameters:
    """Counts and dates of the study design (P unless noted)."""

    n_cases: int = int(published_value("count:cases"))
    controls_per_case: int = 5
    #: cases with only four population controls: 5 x 1,057 - 5,281 = 4 (D).
    n_cases_with_four_controls: int = int(
        5 * published_value("count:cases") - published_value("count:population_controls")
    )
    n_cases_with_siblings: int = int(published_value("count:cases_with_siblings"))
    n_siblings: int = int(published_value("count:siblings"))
    n_spouses: int = int(published_value("count:spouses"))
    register_start: date = date(2005, 7, 1)
    recruitment_start: date = date(2015, 1, 1)
    recruitment_end: date = date(2023, 7, 1)
    #: end of follow-up for prognosis (A).
    end_of_follow_up: date = date(2023, 12, 31)


@dataclass
class PopulationParameters:
    """Source population: demography and covariates (A, calibrated to the P case targets).

    Ages are at the index date.  Siblings share a family birth-cohort centre; each
    member's age is the centre plus ``sibling_age_sd`` noise, truncated to
    ``[min_age, max_age]``, the same way for cases and siblings so that members of
    a family are exchangeable.
    """

    #: centre of the family age distribution; calibrated so cases have mean 67.5 (P).
    family_age_mean: float = 67.25
    #: spread of family centres; calibrated so cases have SD 11.5 (P).
    family_age_sd: float = 11.3
    sibling_age_sd: float = 3.5
    min_age: float = 25.0
    max_age: float = 95.0
    #: share of men in the source population; calibrated so 53.1% of cases are men (P).
    male_share: float = 0.495
    #: spouse age difference (husband older), mean and SD in years (A).
    spouse_age_gap_mean: float = 2.0
    spouse_age_gap_sd: float = 4.0
    #: share of population in each education level by birth year, via a latent normal (A).
    education_trend_per_decade: float = 0.35
    education_cutpoints: tuple[float, float] = (-0.6, 0.45)
    country_of_birth_shares: tuple[float, float, float] = (0.86, 0.05, 0.09)
    civil_status_shares: tuple[float, float, float, float] = (0.58, 0.15, 0.17, 0.10)
    #: yearly probabilities of death and emigration of a control after the index date (A).
    control_death_rate_per_year: float = 0.02
    control_emigration_rate_per_year: float = 0.002


@dataclass
class FamilyParameters:
    """Familial factor and psychiatric liability (A).

    ``U`` is a standard-normal familial factor, identical for full siblings; a
    spouse's factor correlates ``spouse_correlation`` with the case's (assortative
    mating and shared household).  The psychiatric liability is
    ``Psi = r U + sqrt(1 - r^2) Z`` with ``r = familial_share_of_liability``.
    """

    spouse_correlation: float = 0.5
    familial_share_of_liability: float = 0.3
    #: logit model of a psychiatric diagnosis before the index date.
    psych_history_intercept: float = -1.7
    psych_history_per_liability: float = 1.4
    psych_history_female: float = 0.3


@dataclass
class UseParameters:
    """Use of the three classes before the index date (A, calibrated to D prevalences).

    A person is a user of class ``k`` when the latent
    ``alpha_k + lambda_k Psi + mu_k U + kappa_k female + nu_k (age - 65)/10 + sqrt(rho) S + sqrt(1 - rho) e_k``
    is positive, with ``S`` a personal propensity shared by the classes (this
    correlates the classes) and ``e_k`` independent standard normals.  A user's first
    qualifying use (second dispensing) either falls in the first months of the
    register (prevalent users, share ``prevalent_share``) or uniformly over the
    rest of the look-back.
    """

    intercept: dict[str, float] = field(
        default_factory=lambda: {"anxiolytics": -1.32, "hypnotics": -1.28, "antidepressants": -1.25}
    )
    per_liability: dict[str, float] = field(
        default_factory=lambda: {"anxiolytics": 0.50, "hypnotics": 0.40, "antidepressants": 0.60}
    )
    per_familial_factor: dict[str, float] = field(
        default_factory=lambda: {"anxiolytics": 0.05, "hypnotics": 0.35, "antidepressants": 0.05}
    )
    female: dict[str, float] = field(
        default_factory=lambda: {"anxiolytics": 0.20, "hypnotics": 0.15, "antidepressants": 0.25}
    )
    per_decade_of_age: dict[str, float] = field(
        default_factory=lambda: {"anxiolytics": 0.05, "hypnotics": 0.12, "antidepressants": -0.02}
    )
    shared_propensity_share: float = 0.25
    prevalent_share: float = 0.35
    #: probability that a non-user has exactly one dispensing (a near-miss) per class.
    near_miss_single: float = 0.06
    #: probability that a non-user has two dispensings on the same date (counts once).
    near_miss_same_day: float = 0.01
    #: mean number of further dispensings after the qualifying one.
    mean_further_dispensings: float = 4.0
    mean_days_between_dispensings: float = 90.0


@dataclass
class NegativeControlParameters:
    """Use of the negative-control exposure, proton-pump inhibitors (A): confounded by ``U``, no effect on ALS.

    A person is a planted user when
    ``alpha + mu U + kappa female + nu (age - 65)/10 + e`` is positive (``e`` standard
    normal): use depends on the familial factor ``U`` that also raises ALS risk
    (:attr:`RiskParameters.log_or_familial_factor`), and on age and sex, but not on the
    psychiatric liability nor the study classes' shared propensity.  First qualifying use
    is timed as for the study classes (:attr:`UseParameters.prevalent_share`), and users'
    and non-users' dispensings are rendered as theirs are (near-misses, initiation after
    the index date).  With the defaults about 15% of population controls are users.

    ALS risk does not depend on it (``log_or_als`` = 0): the sibling comparison, which
    holds ``U`` fixed, estimates an odds ratio of 1, while the population comparison
    estimates the odds ratio that confounding by ``U`` alone produces (recorded in
    ``truth.json``, ``estimands["negative_control"]``).  Because the use has no effect it
    is drawn after the matched sets, from its own random stream, from each person's ``U``,
    age, sex and index date (the same conditional law for cases and controls, as the null
    implies), so no other table or column changes; a non-zero ``log_or_als`` would need it
    inside the case-sampling step and is refused.

    The noise dispensings of :data:`OTHER_ATC` include A02BC01 (omeprazole), drawn from the
    ``dispensings`` stream before the negative control existed, and are left as they are
    (the other tables stay byte-identical).  They count like any PPI dispensing: about 2%
    of people who are not planted users reach two distinct dates before the index date
    (two noise dispensings, or one with a near-miss) and are classified users by the rule
    of two.  Slightly more often among cases (at 20 times the paper's size, 2.1% of
    non-users among cases against 1.7% among controls, lagged exposure): noise dispensings
    are spread over each person's whole observation, which ends sooner for cases (death),
    so more of a case's fall before the index date.  This small misclassification, which
    the generator's design causes and a register with a constant dispensing rate would
    not, adds about +0.015 to the log odds ratio of relatives' comparisons and partly
    offsets, in the population comparison, the dilution towards 1 by the non-users
    classified as users.  The estimands of ``truth.json`` are computed on planted use.
    """

    drug_class: str = NEGATIVE_CONTROL
    intercept: float = -1.25
    per_familial_factor: float = 0.60
    female: float = 0.15
    per_decade_of_age: float = 0.15
    #: the planted log odds ratio of ALS: exactly 0 (the negative control's null).
    log_or_als: float = 0.0


#: The panel's paths of confounding (:class:`PanelParameters`): the familial factor ``U``, the psychiatric
#: liability ``Psi`` and the personal prescribing propensity ``S`` shared with the study classes.
PANEL_PATHS = ("familial", "liability", "propensity")


@dataclass
class PanelParameters:
    """The panel of negative and positive controls of empirical calibration (issue 25; A).

    The classes are the rows of ``derive/codelists/negative_control_panel.csv``: drug classes
    judged unrelated to ALS (level ``negative_control``; the first, the PPIs, is
    :class:`NegativeControlParameters`' and is left as it is) and three synthetic positive
    controls (level ``positive_control``) with the planted odds ratios :attr:`positive_log_or`.
    A person is a user of class ``j`` when

    ``alpha_j + m_j U + l_j Psi + s_j S + f_j female + a_j (age - 65)/10 + e``

    is positive (``e`` standard normal, own to the class), with ``U`` the familial factor,
    ``Psi`` the psychiatric liability and ``S`` the prescribing propensity the study classes
    share (:class:`UseParameters`): the three paths by which the study classes are confounded
    in the population comparison.  First qualifying use is timed as the study classes'.

    **Planted null.**  The strengths are drawn once, from ``strength_seed`` (not the data's
    seed: the panel is a parameter, the same in every data set), so that the *systematic
    error* of a class, the log odds ratio of its lagged use in the adjusted population
    comparison when its effect is null, is ``b_j ~ N(null_mean, null_sd^2)``: the loadings on
    the liability and the propensity are drawn (:attr:`liability_loading`,
    :attr:`propensity_loading`), and the loading on ``U`` is solved so that
    ``logit Phi(Phi^-1(p_j) + z_j) - logit p_j = b_j``, the log odds ratio of a probit exposure
    of prevalence ``p_j`` (:attr:`user_share_range`) whose standardised latent is
    ``z_j = (m_j, l_j, s_j) . case_shift / sd_j`` higher among cases, :attr:`case_shift` the
    confounders' mean among cases minus their matched controls (``sd_j`` the latent's SD).  The
    part of ``b_j`` of each path is in proportion to its term of ``z_j``.  This linearisation
    is an approximation: the estimand of each class is computed numerically
    (:mod:`alsmeds.estimands.risk`, ``truth.json`` ``estimands["panel_implied"]``), and the
    realised null of the panel is the mean and SD of those.

    **Prodromal prescribing.**  For the classes in :attr:`prodromal_probability`, a case
    who is not a user by its index date starts the class in the year before it with that
    probability (drawn given case status: the disease causes it).  It moves the 0-1 year
    window and ever use, never the lagged exposure.

    **Positive controls.**  Case status is drawn before any panel exposure, so a positive
    control's effect enters through the law of its use given case status: a control's state
    (never, first use in the last year, lagged use ``L``) has the law of a negative control
    with the same loadings, a case's that law tilted by ``exp(beta L)`` (rejection sampling:
    each draw accepted with probability ``exp(beta (L - 1))``).  This is exactly the rare
    disease's odds ``exp(const + eta + beta L - log E[exp(beta L) | T])``, ``T`` the traits the
    use depends on: the conditional odds ratio of lagged use given ``T`` is ``exp(beta)``, and
    the offset, a function of ``T`` alone, leaves the law of ``T`` among cases, hence every
    other table, unchanged.  Its estimate carries the same kind of systematic error as a
    negative control's.

    Everything is drawn from the panel's own random streams (``panel/<group>``), after the
    matched sets, so no other table changes; :attr:`enabled` False draws nothing.
    """

    enabled: bool = True
    #: seed of the draw of the classes' strengths (a parameter, independent of the data's seed).
    strength_seed: int = 25
    #: planted mean and SD of the systematic error (log OR, adjusted lagged, population comparison).
    null_mean: float = 0.15
    null_sd: float = 0.10
    #: mean and SD of the loadings on the psychiatric liability and on the prescribing propensity (normal).
    liability_loading: tuple[float, float] = (0.15, 0.15)
    propensity_loading: tuple[float, float] = (0.20, 0.15)
    #: mean of each confounder among cases minus their matched population controls, given the adjustment set
    #: (A: measured once, adjusted lagged model on 40 times the paper's sample, seed 11; it scales the loadings).
    case_shift: dict[str, float] = field(
        default_factory=lambda: {"familial": 0.325, "liability": 0.13, "propensity": 0.056}
    )
    #: range of the share of users among controls (uniform).
    user_share_range: tuple[float, float] = (0.03, 0.25)
    #: mean number of further dispensings after a user's qualifying one (fewer than the study classes': the
    #: rule of two needs two, and 37 classes would otherwise multiply the dispensings table's size by eight).
    mean_further_dispensings: float = 1.0
    #: SD of the loadings on female sex and age per decade (matched or adjusted for: no bias).
    female_sd: float = 0.15
    per_decade_of_age_sd: float = 0.15
    #: probability that a case who is not a user starts the class in the year before diagnosis (prodromal).
    prodromal_probability: dict[str, float] = field(
        default_factory=lambda: {
            "osmotic_laxatives": 0.03,
            "propionic_acid_nsaids": 0.04,
            "inhaled_beta2_agonists": 0.03,
            "penicillin_v": 0.02,
        }
    )
    #: planted log odds ratio of ALS for lagged use of each synthetic positive control.
    positive_log_or: dict[str, float] = field(
        default_factory=lambda: {
            "synthetic_positive_or_1_5": _log(1.5),
            "synthetic_positive_or_2": _log(2.0),
            "synthetic_positive_or_4": _log(4.0),
        }
    )


@dataclass
class RiskParameters:
    """The ALS risk model: planted within-family log odds ratios (A, calibrated to P).

    Risk follows ``log odds = const + eta`` with

    ``eta = sum_k sum_w beta_kw(age group) X_kw + gamma U + covariate terms``

    where ``X_kw`` indicates first qualifying use of class ``k`` in window ``w``
    before the index date.  ``beta`` is the conditional log odds ratio given the
    familial factor and the other classes: the estimand of a mutually adjusted
    sibling comparison.  The 0-1 year window carries prodromal prescribing (reverse
    causation) and acts at all ages; the 1-5 and >5 year effects are concentrated
    under 65 (P, qualitatively).
    """

    log_or_young: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "anxiolytics": {"0_1": _log(1.8), "1_5": _log(2.0), "gt5": _log(1.27)},
            "hypnotics": {"0_1": _log(4.8), "1_5": _log(1.15), "gt5": _log(1.05)},
            "antidepressants": {"0_1": _log(1.9), "1_5": _log(1.3), "gt5": _log(1.2)},
        }
    )
    log_or_old: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "anxiolytics": {"0_1": _log(1.8), "1_5": _log(1.05), "gt5": _log(1.00)},
            "hypnotics": {"0_1": _log(4.8), "1_5": _log(1.00), "gt5": _log(0.95)},
            "antidepressants": {"0_1": _log(1.9), "1_5": _log(1.00), "gt5": _log(1.00)},
        }
    )
    age_cutoff: float = 65.0
    #: familial factor on ALS risk (per SD of U).
    log_or_familial_factor: float = 0.30
    log_or_psych_history: float = _log(1.10)
    log_or_male: float = _log(1.20)
    log_or_per_decade_of_age: float = 0.10
    log_or_education: dict[str, float] = field(
        default_factory=lambda: {"compulsory": 0.0, "upper_secondary": 0.0, "post_secondary": _log(1.05)}
    )
    log_or_country_of_birth: dict[str, float] = field(
        default_factory=lambda: {"sweden": 0.0, "other_nordic": 0.0, "other": _log(0.75)}
    )


@dataclass
class PrognosisParameters:
    """ALSFRS-R trajectories and the hazard of death or invasive ventilation (A, calibrated to P).

    The true score is ``m_i(t) = b0_i + b1_i t`` (t in months since diagnosis) with
    ``(b0, b1)`` bivariate normal around ``intercept_mean`` and
    ``slope_mean + slope_antidepressants * AD``; the observed score adds
    ``residual_sd`` noise, is rounded and clipped to 0-48.  The hazard is
    ``h(t) = exp(log_baseline_hazard + g'w + association (m_i(t) - intercept_mean)
    + association_slope (m_i'(t) - slope_mean))``, ``w`` = prediagnostic use of each
    class (any qualifying use before diagnosis), age per decade above 65, male sex and
    bulbar onset: a shared-parameter joint model whose ``g`` are the direct
    (joint-model) hazard ratios.  The trajectory is linear, so its current slope
    ``m_i'(t) = b1_i`` is constant.  The association structure
    (:attr:`association_structure`) follows from which of ``association`` (current
    value) and ``association_slope`` (current slope) are non-zero: the default plants
    the current value only; set ``association = 0`` for a slope-only or a
    zero-association truth.
    """

    intercept_mean: float = published_value("cases:alsfrs_at_diagnosis")
    intercept_sd: float = 7.0
    slope_mean: float = -0.90
    slope_sd: float = 0.60
    intercept_slope_correlation: float = 0.3
    slope_antidepressants: float = -0.25
    residual_sd: float = 2.0
    visit_interval_days: float = 84.0
    visit_jitter_days: float = 10.0
    missed_visit_probability: float = 0.10
    log_baseline_hazard: float = -4.55
    #: log hazard ratio per ALSFRS-R point of the current true score (JM's ``alpha``).
    association: float = -0.07
    #: log hazard ratio per ALSFRS-R point per month of the current true slope (JM's slope association,
    #: ``alpha_slope``); 0 (the default) plants none and leaves every table of a data set unchanged.
    association_slope: float = 0.0
    log_hr_use: dict[str, float] = field(default_factory=lambda: {k: _log(PUBLISHED_PROGNOSIS[k][0]) for k in CLASSES})
    log_hr_per_decade_of_age: float = 0.60
    log_hr_male: float = 0.05
    log_hr_bulbar: float = 0.40
    bulbar_share: float = 0.30
    diagnostic_delay_median_months: float = 11.0
    diagnostic_delay_log_sd: float = 0.6
    invasive_ventilation_share: float = 0.08
    #: record the ALSFRS-R total as the latent score (true line plus noise), neither rounded nor clipped to 0-48
    #: (the simulation study's mechanism ``latent_scores``).  The table then breaks the data contract's whole
    #: 0-48 points; False (the default, the register's scores) is left out of ``truth.json`` (``to_dict``).
    record_latent_scores: bool = False

    @property
    def association_structure(self) -> str:
        """Which functions of the trajectory the hazard depends on, from the non-zero associations.

        Returns
        -------
        str
            ``"value"`` (the current value only), ``"slope"`` (the current slope only),
            ``"both"`` or ``"none"``.
        """
        return association_structure(self.association, self.association_slope)


@dataclass
class SimulationParameters:
    """All planted parameters.  ``SimulationParameters()`` gives the documented defaults."""

    design: DesignParameters = field(default_factory=DesignParameters)
    population: PopulationParameters = field(default_factory=PopulationParameters)
    family: FamilyParameters = field(default_factory=FamilyParameters)
    use: UseParameters = field(default_factory=UseParameters)
    negative_control: NegativeControlParameters = field(default_factory=NegativeControlParameters)
    risk: RiskParameters = field(default_factory=RiskParameters)
    prognosis: PrognosisParameters = field(default_factory=PrognosisParameters)
    panel: PanelParameters = field(default_factory=PanelParameters)

    def to_dict(self) -> dict:
        """The parameters as plain JSON-ready data (dates as ISO strings).

        ``prognosis`` also holds the derived ``association_structure``
        (:attr:`PrognosisParameters.association_structure`).
        """

        def clean(obj):
            if isinstance(obj, dict):
                return {k: clean(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return [clean(v) for v in obj]
            if isinstance(obj, date):
                return obj.isoformat()
            if isinstance(obj, float):
                return round_significant(obj)  # as truth.json writes it
            return obj

        out = clean(asdict(self))
        if not self.prognosis.record_latent_scores:  # the default, absent from truth.json as before the switch
            del out["prognosis"]["record_latent_scores"]
        # Derived, recorded so that truth.json says which association is planted.
        out["prognosis"]["association_structure"] = self.prognosis.association_structure
        return out


__all__ = [
    "CATEGORY_CODES",
    "CLASS_ATC",
    "CLASSES",
    "NEGATIVE_CONTROL",
    "WINDOW_LABELS",
    "WINDOWS",
    "ASSOCIATION_STRUCTURES",
    "PANEL_PATHS",
    "PanelParameters",
    "SimulationParameters",
    "association_structure",
]
