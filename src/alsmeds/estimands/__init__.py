"""The implied estimands of the synthetic data: the study's models fitted to large samples of the generator.

The generator (:mod:`alsmeds.simulate`) plants the truth and fits no model.  What the
study's estimators converge to under that mechanism (an odds ratio of a comparison that
cannot hold the familial factor fixed, a Cox model's total effect, the bias dropout gives
the mixed model) has no closed form, so it is computed here by fitting the models of
:mod:`alsmeds.models` to samples of the generator far larger than the paper's.  The layer
sits above ``simulate`` and ``models`` and below ``reporting``:

==========================  ============================================================
module                      estimand
==========================  ============================================================
:mod:`.risk`                conditional logistic models: population, sibling and spouse
                            comparisons, age strata, the negative control
:mod:`.cox`                 adjusted Cox models: total effects under the joint model
:mod:`.dropout`             the mixed model's slopes under each dropout scenario
:mod:`.implied`             the implied sections of ``truth.json``, cached on disk
:mod:`.synthetic`           a data set with its complete truth: write and check
:mod:`.cache`               the on-disk cache (``build/cache/``), keyed by inputs and code
==========================  ============================================================

Nothing is imported here, so that importing one module loads only what it needs.
"""
