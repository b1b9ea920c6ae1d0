"""The cohort and exposure descriptions: ``01_cohort.json``, Table 1, the table schema, ``02_exposure.json``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.data.problems import warnings_frame
from alsmeds.data.write import write_csv_atomic, write_json_atomic
from alsmeds.derive.analysis_table import analysis_table_schema
from alsmeds.derive.cohort import comparison_summary
from alsmeds.reporting import describe
from alsmeds.reporting.table1 import baseline_table, classification_agreement, write_table1


@analysis("cohort", outputs=("01_cohort.json",))
def cohort(ctx: AnalysisContext) -> list[Path]:
    """People and matched sets by role, their age and sex, and what the validator accepted with a rule.

    Writes ``01_cohort.json``: ``counts`` (people and sets per role,
    :func:`alsmeds.reporting.describe.role_counts`), ``demographics`` (age at the index
    date and sex per role, 4 decimals) and ``accepted_with_warnings`` (table, column, rule
    and row count of each documented rule the extract needed).
    """
    study = ctx.study
    members = describe.members(study.members)
    accepted = warnings_frame(study.warnings)
    summary = {
        "data_dir": study.source,
        "counts": describe.role_counts(members).reset_index().to_dict(orient="records"),
        "demographics": describe.demographics_by_role(members).round(4).reset_index().to_dict(orient="records"),
        "accepted_with_warnings": accepted[["table", "column", "rule", "rows"]].to_dict(orient="records"),
    }
    return [write_json_atomic(ctx.results_dir / "01_cohort.json", summary)]


@analysis(
    "exposure",
    outputs=("analysis_table_schema.csv", "table1.csv", "table1.html", "exposure_prevalence.csv", "02_exposure.json"),
)
def exposure(ctx: AnalysisContext) -> list[Path]:
    """The analysis table's schema, Table 1 with the exposure prevalence, and the exposure summary.

    ``02_exposure.json`` records the exposure rules, the analysis table's size by
    comparison and, for synthetic data, the agreement of the classification with the
    planted exposure of each person (:func:`alsmeds.reporting.table1.classification_agreement`).
    """
    study = ctx.study
    table = study.analysis_table
    written = [write_csv_atomic(ctx.results_dir / "analysis_table_schema.csv", analysis_table_schema())]
    written += write_table1(baseline_table(table), ctx.results_dir)
    agreement = None if study.truth_people is None else classification_agreement(table, study.truth_people)
    summary = {
        "data_dir": study.source,
        "rules": asdict(study.rules),
        "analysis_table": {
            "rows": int(len(table)),
            "columns": int(table.shape[1]),
            "rows_by_comparison": {c: int(n) for c, n in table["comparison"].value_counts(sort=False).items()},
            "by_comparison": comparison_summary(table, study.registry).reset_index().to_dict(orient="records"),
        },
        "truth_agreement": None if agreement is None else agreement.reset_index().to_dict(orient="records"),
    }
    written.append(write_json_atomic(ctx.results_dir / "02_exposure.json", summary))
    return written
