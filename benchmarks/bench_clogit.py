"""Benchmark: our one-case-per-set conditional logit against statsmodels ConditionalLogit.

Paper-scale population comparison of the committed synthetic data: 1,057 matched
sets, 6,338 rows, the nine mutually adjusted window indicators and eight covariate
columns, on the true exposure categories.  Prints the median of several fits of
each, their ratio, and the largest coefficient difference.  (The comparison with R
``survival::clogit`` belongs to the risk-model benchmark.)

Usage: ``python benchmarks/bench_clogit.py [--runs 5]``
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from statsmodels.discrete.conditional_models import ConditionalLogit
from timing import timed  # benchmarks/timing.py

from alsmeds.models.clogit import fit_clogit
from alsmeds.models.design import POPULATION_ADJUSTMENT, covariate_matrix, window_indicators
from alsmeds.simulate import SimulationParameters
from alsmeds.simulate.population import simulate_study_population
from alsmeds.simulate.truth import comparison_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    people = comparison_sets(simulate_study_population(SimulationParameters(), seed=1, scale=1), "population")
    X = pd.concat([window_indicators(people), covariate_matrix(people, POPULATION_ADJUSTMENT)], axis=1)
    case = (people["role"] == "case").to_numpy()
    strata = people["set_id"].to_numpy()
    ours_t, ours = timed(lambda: fit_clogit(X, case, strata), args.runs)
    sm_t, sm = timed(
        lambda: ConditionalLogit(case.astype(float), X.to_numpy(), groups=strata).fit(method="newton", disp=0),
        args.runs,
    )
    print(f"rows {len(X):,}, sets {len(np.unique(strata)):,}, covariates {X.shape[1]}")
    print(f"alsmeds fit_clogit           median {ours_t * 1000:8.1f} ms")
    print(f"statsmodels ConditionalLogit median {sm_t * 1000:8.1f} ms (newton)")
    print(f"ratio statsmodels / alsmeds: {sm_t / ours_t:.0f}x")
    print(f"max |coef difference|: {np.abs(ours.params.to_numpy() - sm.params).max():.2e}")


if __name__ == "__main__":
    main()
