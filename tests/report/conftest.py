"""A DICOM test series whose PatientName, PatientID and PatientBirthDate are set."""

from __future__ import annotations

import numpy as np
import pytest
from report_fixtures import PHI, PhiCase


@pytest.fixture(scope="package")
def phi_case(tmp_path_factory: pytest.TempPathFactory) -> PhiCase:
    from coloc_viewer import load_volume
    from coloc_viewer.imaging.dicom_write import write_dicom_series

    folder = tmp_path_factory.mktemp("phi")
    yy, xx = np.mgrid[:48, :56]
    body = 400.0 * (((yy - 24) / 20.0) ** 2 + ((xx - 28) / 24.0) ** 2 < 1)
    vox = np.stack([body + 30.0 * k for k in range(4)]).astype(np.float32)
    vox[2, 18:26, 30:38] += 300.0  # the "lesion"
    # the patient's name also hides in a free-text field, as it does in real data
    write_dicom_series(vox, folder / "series", patient_name=PHI["name"], patient_id=PHI["id"],
                       series_description="T2 ax Zyxwvut follow-up",
                       extra={"PatientBirthDate": PHI["birth"]})
    volume = load_volume(folder / "series")
    roi = np.zeros(volume.shape, bool)
    roi[2, 18:26, 30:38] = True
    saliency = np.exp(-((yy - 21.5) ** 2 + (xx - 33.5) ** 2) / 30.0).astype(np.float32)
    return PhiCase(volume, roi, 2, saliency, folder)
