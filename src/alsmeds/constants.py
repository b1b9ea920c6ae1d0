"""Study definitions shared by the generator and the analysis."""

from __future__ import annotations

from scipy import stats

#: The three drug classes of the study.
CLASSES = ("anxiolytics", "hypnotics", "antidepressants")
#: ATC groups of the three classes (standard groups; the paper's exact list is not in the sources available to us).
CLASS_ATC = {"anxiolytics": "N05B", "hypnotics": "N05C", "antidepressants": "N06A"}
#: Mutually exclusive windows by the time of first qualifying use before the index date.
WINDOWS = ("0_1", "1_5", "gt5")
WINDOW_LABELS = {"never": "never", "0_1": "0-1 y", "1_5": "1-5 y", "gt5": ">5 y"}
#: Integer codes of the exposure category per class.
CATEGORY_CODES = {"never": 0, "0_1": 1, "1_5": 2, "gt5": 3}
#: The negative-control exposure: proton-pump inhibitors, a drug class with no effect on ALS whose use the
#: synthetic data tie to the familial factor.  It is classified and modelled exactly like a study class but is
#: never one of :data:`CLASSES`, so no study frame or model changes with it.  Its code list is the rows of level
#: ``negative_control`` of ``derive/codelists/atc_classes.csv`` (checked against these two constants).
NEGATIVE_CONTROL = "ppis"
#: ATC group of the negative control (standard group A02BC, proton-pump inhibitors).
NEGATIVE_CONTROL_ATC = "A02BC"
#: Days per year of every time scale of the analysis (the mean Julian year): ages, follow-up, look-back, in years.
#: Defined here, in the foundation, so that figures use it too; :mod:`alsmeds.derive.dates` re-exports it.
DAYS_PER_YEAR = 365.25
#: Days per month (365.25 / 12), the time unit of the ALSFRS-R models.
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


#: The 97.5% quantile of the standard normal (95% Wald intervals; Monte Carlo bands of figures).
Z_975 = float(stats.norm.ppf(0.975))
#: ``z_0.975 + z_0.80`` = 2.8016, the "2.8" of sample-size formulas: a two-sided 5% Wald test
#: detects a true log ratio of ``Z_DETECTABLE_80 * SE`` with 80% power, so ``exp(Z_DETECTABLE_80 * SE)``
#: is the minimal detectable odds or hazard ratio of an estimate with standard error ``SE``.
Z_DETECTABLE_80 = Z_975 + float(stats.norm.ppf(0.80))
