"""Our joint model against R JM's fits of the three association structures (issue 24).

The anchors are JM 1.5-2's own numbers, stored beside the script that made them
(``src/alsmeds/reference/R/jm_parameterizations.R``; how to rerun it, with JM in the private R library
build/R-lib, is at its top; ``tests/data/README.md`` says the same).  JM is not needed to run these
tests, except the one that re-runs the script.

* ``tests/data/jm_pbc_parameterizations.json``: the PBC trial (``tests/data/pbcseq.csv``, the model of
  ``tests/test_joint_model.py``: ``log(bili) ~ drug * year``, random intercept and slope, Weibull
  hazard in ``drug``), ``jointModel(method = "weibull-PH-aGH")`` with ``parameterization = "value"``,
  ``"slope"`` and ``"both"``, each at JM's default 5 Gauss-Hermite nodes per random effect, 15 and 21.
* ``tests/data/jm_als_parameterizations.json``: the committed study's joint frames
  (``Study.from_parameters().joint_data``, exported by :mod:`alsmeds.reference.jm_export`) with the
  model :class:`alsmeds.models.joint.prognosis.AlsJointModel` fits (months since diagnosis), at JM's
  default 3 nodes, 15 and 21.  JM takes 4-10 minutes per fit at 15 or 21 nodes here.

Two comparisons:

* **The same objective** (every stored fit).  Our model with JM's approximations
  (:data:`JM_SETTINGS`: nodes fixed on the random effects at the mixed model's empirical-Bayes
  centres and scales, no adaptive round, the 15-point time rule applied in ``t``) and JM's node
  count maximises (nearly) the function JM maximises, so our log-likelihood must reach JM's, less
  :data:`LLF_TOL` (JM centres its nodes on the REML fit of ``lme``, we on the ML fit: the two
  approximate objectives are not identical), and not exceed it by more than :data:`LLF_ABOVE` (the
  same quantity, constants included; JM stops a little short of its optimum: ours is higher by
  0.0003 to 0.055).  Estimates within :data:`EST_TOL_SE` of JM's standard errors (measured: at most
  0.15).
* **Our defaults** (nodes on the patient's own line, an adaptive round, the time rule in
  ``t^shape``, the closed-form cumulative hazard of the slope association) against JM's fit with the
  most nodes: estimates only, within :data:`EST_TOL_SE` of JM's standard errors.  Not the
  log-likelihood: the two are different approximations of the same integral, and JM's is biased
  upward where the Weibull shape is below 1 (0.89 for the ALS value fit): its Gauss-Kronrod rule in
  ``t`` meets ``t^(shape - 1)``, infinite at 0, with nodes that never reach 0, so it under-states
  the cumulative hazard and over-states ``exp(-H)``; on the ALS data by 0.13 log-likelihood units
  (value) and 0.11 (both), so there our more accurate log-likelihood lies *below* JM's (by 0.125
  and 0.082).  A ">=" check would compare approximation errors, not fits.  The exception is the
  slope association at ALS scale, where JM's rule has not converged at 21 nodes (its log-likelihood
  still rises by 1 from 15 to 21 nodes and is 2.8 below ours; the mean slope sits 4.5 of JM's SEs
  from ours): tested as such, not as agreement.

Plus checks of the anchors themselves: the data JM saw are ours (counts; the PBC file's and the
exported ALS frames' MD5 sums), JM converged, JM's answer is stable between 15 and 21 nodes (but
for that exception) and JM's default node count is not enough in places.
"""

from __future__ import annotations

import inspect
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from alsmeds.models.joint import JointModel
from alsmeds.models.joint.fitting import JM_SETTINGS

if "association" not in inspect.signature(JointModel).parameters:
    pytest.skip("association structures not implemented yet", allow_module_level=True)

from test_joint_model import PBC_CSV, PBC_MODEL, pbc_frames  # noqa: E402, I001  (tests/ is on the path)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
SCRIPT = REPO / "src" / "alsmeds" / "reference" / "R" / "jm_parameterizations.R"
ANCHORS = {"pbc": DATA / "jm_pbc_parameterizations.json", "als": DATA / "jm_als_parameterizations.json"}
PARAMETERIZATIONS = ("value", "slope", "both")
#: Estimates within this many of JM's standard errors.
EST_TOL_SE = 0.3
#: Our log-likelihood on JM's objective at least JM's minus this (nodes centred on lme's REML
#: empirical-Bayes estimates in JM, on the ML mixed model's here).
LLF_TOL = 0.005
#: ... and at most JM's plus this (the same quantity, not merely a higher number).
LLF_ABOVE = 0.1
#: The ALS model: AlsJointModel's specification (checked against it below).
ALS_MODEL = {
    "id": "person_id",
    "time": "months",
    "y": "score",
    "surv_time": "time_months",
    "event": "event",
    "level": ["anxiolytics", "hypnotics", "antidepressants", "age_per_decade", "male", "bulbar"],
    "slope": ["anxiolytics", "hypnotics", "antidepressants"],
    "surv": ["anxiolytics", "hypnotics", "antidepressants", "age_per_decade", "male", "bulbar"],
}
#: AlsJointModel's nodes per random effect (not JM's rule of 3 from 2,000 visits on).
ALS_NODES = 5


@cache
def anchor(dataset: str) -> dict:
    return json.loads(ANCHORS[dataset].read_text())


def stored_fits(dataset: str) -> list[dict]:
    return anchor(dataset)["fits"] if ANCHORS[dataset].exists() else []


def objective_cases() -> list:
    """One pytest param per stored fit compared on JM's objective; the ALS ones are slow."""
    out = []
    for dataset in ("pbc", "als"):
        for f in stored_fits(dataset):
            p, q = f["parameterization"], f["GHk"]
            marks = [pytest.mark.slow] if dataset == "als" else []
            out.append(pytest.param(dataset, p, q, marks=marks, id=f"{dataset}-{p}-{q}"))
    return out


def jm_fit(dataset: str, parameterization: str, nodes: int | None = None) -> dict:
    """The stored fit of this parameterization with this many nodes (default: the most)."""
    fits = [f for f in anchor(dataset)["fits"] if f["parameterization"] == parameterization]
    if nodes is None:
        return max(fits, key=lambda f: f["GHk"])
    (fit,) = [f for f in fits if f["GHk"] == nodes]
    return fit


def jm_fits(dataset: str, parameterization: str) -> list[dict]:
    """The stored fits of this parameterization, fewest nodes first."""
    fits = [f for f in anchor(dataset)["fits"] if f["parameterization"] == parameterization]
    return sorted(fits, key=lambda f: f["GHk"])


@cache
def frames(dataset: str):
    if dataset == "pbc":
        return pbc_frames()
    from alsmeds.reference.jm_export import committed_frames

    f = committed_frames()
    return f.long, f.surv


def model_args(dataset: str) -> dict:
    return PBC_MODEL if dataset == "pbc" else ALS_MODEL


def default_model(dataset: str, parameterization: str) -> JointModel:
    """Our default settings (the ALS model at AlsJointModel's node count)."""
    nodes = {"n_nodes": ALS_NODES} if dataset == "als" else {}
    return JointModel(**model_args(dataset), association=parameterization, **nodes)


def needs_anchor(dataset: str) -> None:
    if not ANCHORS[dataset].exists():
        pytest.skip(f"{ANCHORS[dataset].name} not written (see jm_parameterizations.R)")


def _check_converged(result):
    assert result.converged, result.message
    assert result.min_hessian_eigenvalue > 0


def _shifts(result, fit: dict) -> dict[str, float]:
    """(ours - JM) / JM's SE for every parameter JM reports; the same parameters on both sides."""
    jm, se = fit["estimates"], fit["se"]
    ours = {n for n in result.params.index if not n.startswith(("log_sigma", "log_chol", "chol_"))}
    assert ours == set(jm), (sorted(ours ^ set(jm)), fit["parameterization"])
    return {n: (result.params[n] - jm[n]) / se[n] for n in jm}


def _compare_estimates(result, fit: dict) -> None:
    """Every JM estimate within EST_TOL_SE of JM's standard error."""
    bad = {n: round(z, 3) for n, z in _shifts(result, fit).items() if abs(z) > EST_TOL_SE}
    assert not bad, (fit["parameterization"], fit["GHk"], bad)


# --------------------------------------------------------------------------- the anchors themselves


@pytest.mark.parametrize("dataset", ["pbc", "als"])
def test_anchor_describes_our_data(dataset, tmp_path):
    """JM 1.5-2 converged on every fit, on the data and the model our tests fit."""
    needs_anchor(dataset)
    from alsmeds.reference.jm_export import md5

    a = anchor(dataset)
    assert a["jm_version"] == "1.5-2"
    assert a["model"]["method"] == "weibull-PH-aGH"
    fits = a["fits"]
    assert {f["parameterization"] for f in fits} == set(PARAMETERIZATIONS)
    for f in fits:
        assert f["convergence"] == 0, (f["parameterization"], f["GHk"])
        assert f["GKk"] == 15
        names = set(f["estimates"])
        assert ("alpha" in names) == (f["parameterization"] != "slope")
        assert ("alpha_slope" in names) == (f["parameterization"] != "value")
        assert set(f["se"]) == names and all(v > 0 for v in f["se"].values())
    default_nodes = {f["GHk"] for f in fits if f["GHk_rule"] == "JM default"}
    assert default_nodes == {5 if dataset == "pbc" else 3}
    long, surv = frames(dataset)
    event = model_args(dataset)["event"]
    counts = (a["data"]["n_obs"], a["data"]["n_patients"], a["data"]["n_events"])
    assert counts == (len(long), len(surv), int(surv[event].sum()))
    if dataset == "pbc":
        assert a["data"]["md5"] == {"pbcseq.csv": md5(PBC_CSV)}
        assert a["model"]["derivForm"]["indFixed_terms"] == ["year", "drug:year"]
    else:
        from alsmeds.models.joint.prognosis import AlsJointModel
        from alsmeds.reference.jm_export import committed_frames, export_frames

        paths = export_frames(committed_frames(), tmp_path)
        stale = "stale anchor: the committed study's joint frames changed; rerun jm_export and the R script"
        assert a["data"]["md5"] == {p.name: md5(p) for p in paths.values()}, stale
        bundle = AlsJointModel()
        assert bundle.n_nodes == ALS_NODES
        jm = bundle.joint_model()
        ours = JointModel(**ALS_MODEL)
        assert (jm.spec, jm.baseline) == (ours.spec, ours.baseline)
        terms = ["months", *(f"{k}:months" for k in ALS_MODEL["slope"])]
        assert a["model"]["derivForm"]["indFixed_terms"] == terms


@pytest.mark.parametrize(
    ("dataset", "parameterization"),
    [("pbc", p) for p in PARAMETERIZATIONS] + [("als", "value"), ("als", "both")],
)
def test_jm_is_stable_from_15_to_21_nodes(dataset, parameterization):
    """JM's 15- and 21-node fits agree within 0.1 of JM's SEs and 0.02 log-likelihood units.

    Measured: at most 0.03 SE on PBC and 0.05 SE on ALS.  (Not the ALS slope association: see
    test_jm_slope_association_unconverged_at_als_scale.)
    """
    needs_anchor(dataset)
    f15, f21 = jm_fit(dataset, parameterization, 15), jm_fit(dataset, parameterization, 21)
    shift = max(abs(f15["estimates"][n] - f21["estimates"][n]) / f21["se"][n] for n in f21["estimates"])
    assert shift < 0.1, shift
    assert abs(f15["loglik"] - f21["loglik"]) < 0.02


def test_jm_default_nodes_are_not_enough():
    """JM's default node count moves estimates by more than 0.3 SE where its 15 and 21 agree.

    PBC, slope association (5 nodes): the mean slope by 0.58 SE, the log-likelihood by 0.8.  ALS,
    value and both (3 nodes, JM's rule from 2,000 visits on): the mean ALSFRS-R slope by 0.6 and 0.7
    SE, and its SE less than a third of the 21-node one (the failure ``test_jm_rule_fails_at_als_scale``
    in test_joint_model.py shows with our implementation of JM's rule, here in JM itself).
    """
    needs_anchor("pbc")
    needs_anchor("als")
    cases = (("pbc", "slope", "long:year"), ("als", "value", "long:months"), ("als", "both", "long:months"))
    for dataset, parameterization, slope in cases:
        low, high = jm_fits(dataset, parameterization)[0], jm_fit(dataset, parameterization)
        assert low["GHk_rule"] == "JM default"
        shift = abs(low["estimates"][slope] - high["estimates"][slope]) / high["se"][slope]
        assert shift > 0.3, (dataset, parameterization, shift)
        if dataset == "als":
            assert low["se"][slope] < high["se"][slope] / 3


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_script_reproduces_stored_pbc_fits(tmp_path):
    """jm_parameterizations.R, re-run on PBC at JM's default nodes, writes the stored numbers (JM in build/R-lib).

    JM is not packaged by Debian (and so not in CI): without it in the private library the test is
    skipped with the reason.  About 15 s.
    """
    import shutil
    import subprocess

    from alsmeds.reference.r import RSCRIPT_OPTIONS

    if not (REPO / "build" / "R-lib" / "JM").is_dir():
        pytest.skip(
            "JM is not installed in build/R-lib: it is not packaged by Debian (and so not in CI); install its "
            "source (github cran/JM, version 1.5-2) with R CMD INSTALL -l build/R-lib <source>"
        )
    out = tmp_path / "jm.json"
    subprocess.run(
        [shutil.which("Rscript"), *RSCRIPT_OPTIONS, str(SCRIPT), "pbc", "nodes=default", f"out={out}"],
        check=True,
        timeout=600,
        capture_output=True,
    )
    live = json.loads(out.read_text())
    assert live["data"] == anchor("pbc")["data"] and live["model"] == anchor("pbc")["model"]
    assert len(live["fits"]) == 3
    for fit in live["fits"]:
        stored = jm_fit("pbc", fit["parameterization"], fit["GHk"])
        assert fit["loglik"] == pytest.approx(stored["loglik"], rel=1e-9, abs=0)
        for key in ("estimates", "se", "variance_components"):
            assert fit[key] == pytest.approx(stored[key], rel=1e-6, abs=1e-9), (fit["parameterization"], key)


# --------------------------------------------------------------------------- the same objective


@pytest.mark.parametrize(("dataset", "parameterization", "nodes"), objective_cases())
def test_jm_objective_reaches_jm(dataset, parameterization, nodes):
    """With JM's approximations and node count: log-likelihood at least JM's (less LLF_TOL), estimates within 0.3 SE."""
    fit = jm_fit(dataset, parameterization, nodes)
    model = JointModel(**model_args(dataset), **JM_SETTINGS, n_nodes=nodes, association=parameterization)
    result = model.fit(*frames(dataset))
    _check_converged(result)
    assert result.quadrature["nodes_per_random_effect"] == nodes
    assert result.n_obs == anchor(dataset)["data"]["n_obs"]
    assert result.llf >= fit["loglik"] - LLF_TOL, (result.llf, fit["loglik"])
    assert result.llf < fit["loglik"] + LLF_ABOVE, (result.llf, fit["loglik"])
    _compare_estimates(result, fit)


# --------------------------------------------------------------------------- our defaults


@pytest.mark.parametrize(
    ("dataset", "parameterization"),
    [
        *[("pbc", p) for p in PARAMETERIZATIONS],
        *[pytest.param("als", p, marks=pytest.mark.slow) for p in ("value", "both")],
    ],
)
def test_defaults_match_jm_estimates(dataset, parameterization):
    """Our default (more accurate) fit against JM's 21-node fit: estimates within 0.3 of JM's SEs.

    Estimates only: JM's time rule in ``t`` over-states the log-likelihood when the Weibull shape is
    below 1 (the ALS fits: shape 0.89), so the two log-likelihoods are different approximations of
    the same integral and ours may lie below JM's (module docstring).  Measured: at most 0.14 SE on
    PBC (the slope association's mean slope), 0.11 on ALS.
    """
    needs_anchor(dataset)
    fit = jm_fit(dataset, parameterization)
    assert fit["GHk"] == 21
    result = default_model(dataset, parameterization).fit(*frames(dataset))
    _check_converged(result)
    _compare_estimates(result, fit)


@pytest.mark.slow
def test_jm_slope_association_unconverged_at_als_scale():
    """ALS, slope association: JM's fits at 3, 15 and 21 nodes climb towards ours and have not reached it.

    With the hazard in the current slope, the event times carry much information about each
    patient's slope, so the posterior of the random effects moves away from the mixed model's
    empirical-Bayes centres on which JM fixes its nodes, and JM's rule converges slowly.  Our fit
    (nodes re-centred on the joint posterior, on the patient's own line) is the converged integral
    (5 and 7 nodes agree to 0.01 in the log-likelihood and 0.01 SE); JM's log-likelihood rises
    from -23168.05 (3 nodes) to -23163.54 (15) and -23162.56 (21) towards ours (-23159.76), and its
    mean ALSFRS-R slope from -0.923 to -0.953 and -0.961 towards ours (-0.998, 4.5 of JM's 21-node
    SEs away, 1.4 of ours).  So the anchor here is the direction and the gap, not agreement.
    """
    needs_anchor("als")
    fits = jm_fits("als", "slope")
    assert [f["GHk"] for f in fits] == [3, 15, 21]
    ours = {q: JointModel(**ALS_MODEL, association="slope", n_nodes=q).fit(*frames("als")) for q in (ALS_NODES, 7)}
    for r in ours.values():
        _check_converged(r)
    best = ours[ALS_NODES]
    assert abs(ours[7].llf - best.llf) < 0.01
    assert np.max(np.abs(ours[7].params - best.params) / best.bse) < 0.01
    lls = [f["loglik"] for f in fits]
    assert lls[0] < lls[1] < lls[2] < best.llf - 1.0  # still more than 1 below ours at 21 nodes
    assert lls[2] - lls[1] > 0.5  # and still rising
    for name in ("long:months", "alpha_slope", "long:Intercept"):
        gaps = [abs(f["estimates"][name] - best.params[name]) for f in fits]
        assert gaps[0] > gaps[1] > gaps[2], (name, gaps)
    # the disagreement that remains, in JM's SEs
    assert abs(_shifts(best, fits[-1])["long:months"]) > 3
