"""The analyses layer: a study specification and one function per results file.

``alsmeds study run SPEC --data-dir X --results-dir Y`` (or :func:`run_analyses`) reads
the specification (:mod:`.spec`), builds the study's data under its exposure rules, and
runs every declared analysis (:mod:`.registry`) in dependency order, resumably, writing
every results file; notebooks load those files (:class:`StudyResults`) and show and
explain them.  Modules: :mod:`.cohort` (cohort and exposure descriptions), :mod:`.risk`
(Table 2, sensitivity and subgroup analyses), :mod:`.prognosis` (follow-up, Cox, ALSFRS-R
mixed model, joint model), :mod:`.report` (the reproduction scorecard, the simulation
study's summaries).
"""

from __future__ import annotations

from importlib import import_module

from alsmeds.analyses.context import AnalysisContext, read_results_file
from alsmeds.analyses.registry import ANALYSES, Analysis, analysis, ordered, with_needs
from alsmeds.analyses.run import RunReport, StudyResults, results, run_analyses
from alsmeds.analyses.spec import STUDY_SPEC_FILE, SpecError, StudySpec, json_schema, read_spec

#: The modules that declare analyses, in the order of the study (the report last); imported for their declarations.
ANALYSIS_MODULES = (
    "cohort",
    "risk",
    "survival",
    "alsfrs",
    "joint",
    "calibration",
    "calibration_check",
    "mechanisms",
    "report",
)
for _module in ANALYSIS_MODULES:
    import_module(f"{__name__}.{_module}")

__all__ = [
    "ANALYSES",
    "Analysis",
    "AnalysisContext",
    "RunReport",
    "STUDY_SPEC_FILE",
    "SpecError",
    "StudyResults",
    "StudySpec",
    "analysis",
    "ordered",
    "json_schema",
    "read_results_file",
    "read_spec",
    "results",
    "run_analyses",
    "with_needs",
]
