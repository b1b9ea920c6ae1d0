"""The estimand of each estimator of the simulation study, read from the committed ``truth.json``.

Two kinds of estimand (Morris, White & Crowther 2019: the "E" of ADEMP):

* **implied** (``exact`` false): what the estimator converges to under the generator, which
  is not a parameter of it.  The generator fits the same model to ``truth_scale`` times the
  paper's sample and records the estimate and its Monte Carlo SE (``mc_se``):

  - risk models, every comparison (population, sibling, spouse; the sibling and spouse
    conditional odds ratios differ from the planted within-family ones because they pool
    the age groups of ``estimands.within_family_log_or`` and are non-collapsible):
    ``estimands.implied[<comparison>_per_class | <comparison>_mutual_<exposure>
    [_under_65 | _65_plus]][term].log_or``;
  - Cox models of prediagnostic use (total effects, through the faster decline of users):
    ``estimands.implied_cox[<model>][<class>].log_hr``.

* **planted** (``exact`` true, ``mc_se`` 0): parameters of the generator that the model
  contains:

  - joint model: the direct log hazard ratios of use
    (``estimands.prognosis.joint_model_log_hr_direct``), of age per decade, male sex and
    bulbar onset (``parameters.prognosis.log_hr_*``), the association ``alpha``
    (``association_per_alsfrs_point``), the non-user slope and the slope differences of
    users (antidepressants ``difference``, other classes 0);
  - ALSFRS-R mixed model: the same slopes (``months``, ``<class>:months``).

Estimators without an estimand (crude models, covariates of the risk and Cox models, the
intercepts) are stored in the replicates but not judged.
"""

from __future__ import annotations

# One definition: the estimand table lives in alsmeds.reporting.simstudy (below the analyses layer, which
# summarises the stored study); this module keeps the simulation study's names for it.
from alsmeds.reporting.simstudy import (
    ESTIMAND_COLUMNS,
    STRATUM_SUFFIX,
    estimand_table,
    read_truth,
)

__all__ = ["ESTIMAND_COLUMNS", "STRATUM_SUFFIX", "estimand_table", "read_truth"]
