"""Batched dynamic predictions: one pass over all patients gives what one call per patient gives."""

from __future__ import annotations

import numpy as np
import pytest

from alsmeds import Study
from alsmeds.analyses.joint import joint_fits
from alsmeds.models.joint.landmark import _joint_result, landmark_frame
from alsmeds.models.joint.prediction import dynamic_risks, dynamic_survival


@pytest.fixture(scope="module")
def committed():
    study = Study.from_parameters()
    return study.joint_data, _joint_result(joint_fits(study))


@pytest.mark.parametrize("landmark", [6.0, 12.0])
def test_batched_risks_equal_the_per_patient_predictions(committed, landmark):
    frames, fit = committed
    ids = landmark_frame(frames, landmark)["person_id"].to_numpy()[::25]  # every 25th patient at risk
    surv = frames.surv.set_index("person_id").loc[ids].reset_index()
    batched = dynamic_risks(fit, frames.long, surv, landmark, (6.0, 12.0))
    assert list(batched.loc[batched["horizon"] == 6.0, "person_id"]) == list(ids)  # the order of surv
    for pid in ids:
        one = dynamic_survival(
            fit, frames.long[frames.long["person_id"] == pid], landmark, [landmark + 6, landmark + 12]
        )
        risk = batched.loc[batched["person_id"] == pid, "risk"].to_numpy()
        np.testing.assert_allclose(risk, 1 - one["survival"].to_numpy(), rtol=1e-10, atol=1e-12)


def test_a_patient_without_a_measurement_by_the_landmark_is_refused(committed):
    frames, fit = committed
    pid = landmark_frame(frames, 6.0)["person_id"].iloc[0]
    early = (frames.long["person_id"] == pid) & (frames.long["months"] <= 6.0)
    surv = frames.surv[frames.surv["person_id"] == pid]
    with pytest.raises(ValueError, match="1 patients have no measurement by the landmark"):
        dynamic_risks(fit, frames.long[~early], surv, 6.0, (6.0,))
