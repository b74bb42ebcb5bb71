"""Input roles of a multi-series card matched to the series of a real DICOM folder."""

from __future__ import annotations

import numpy as np
import pytest

from coloc_viewer.imaging.dicom_write import write_dicom_series
from coloc_viewer.imaging.inspect import scan
from coloc_viewer.imaging.load import load_volume
from coloc_viewer.imaging.series_match import RoleMatchError, RoleSpec, match_roles

ROLES = [RoleSpec("T2", "(?i)t2"), RoleSpec("ADC", "(?i)adc"),
         RoleSpec("DWI", "(?i)(dwi|b1[0-9]{3})")]


def _write(folder, description, shape, spacing, seed):
    vox = np.random.default_rng(seed).integers(0, 900, shape).astype(np.float64)
    write_dicom_series(vox, folder, spacing=spacing, origin=(0.0, 0.0, 0.0),
                       modality="MR", series_description=description)
    return vox


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpmri")
    _write(root / "t2", "T2 TSE AX", (6, 32, 32), (3.0, 0.5, 0.5), 1)
    _write(root / "adc", "ep2d_diff ADC", (4, 16, 16), (4.0, 1.0, 1.0), 2)
    _write(root / "dwi", "ep2d_diff b1400", (4, 16, 16), (4.0, 1.0, 1.0), 3)
    _write(root / "loc", "localizer", (1, 16, 16), (5.0, 1.0, 1.0), 4)
    return root


def test_each_role_gets_its_series_and_loads(study):
    found = scan(study)
    roles = match_roles(ROLES, found, path=str(study))
    assert list(roles) == ["T2", "ADC", "DWI"]
    by_key = {s.series_key: s for s in found}
    assert by_key[roles["T2"]].description == "T2 TSE AX"
    assert by_key[roles["DWI"]].description == "ep2d_diff b1400"
    adc = load_volume(study, series=roles["ADC"])
    assert adc.shape == (4, 16, 16)


def test_no_match_names_the_role_and_the_series_left(study):
    with pytest.raises(RoleMatchError) as err:
        match_roles([RoleSpec("FLAIR", "(?i)flair")], scan(study), path=str(study))
    assert err.value.role == "FLAIR" and len(err.value.candidates) == 4
    assert "no series matches input FLAIR" in str(err.value) and "localizer" in str(err.value)


def test_several_matches_ask_and_a_choice_settles_it(study):
    found = scan(study)
    diffusion = RoleSpec("DWI", "(?i)diff")
    with pytest.raises(RoleMatchError) as err:
        match_roles([diffusion], found)
    assert len(err.value.candidates) == 2
    chosen = {"DWI": err.value.candidates[1]}
    assert match_roles([diffusion], found, chosen=chosen) == chosen


def test_a_series_never_plays_two_roles(study):
    found = scan(study)
    t2 = match_roles([RoleSpec("T2", "(?i)t2")], found)["T2"]
    with pytest.raises(RoleMatchError):
        match_roles([RoleSpec("A", "(?i)t2"), RoleSpec("B", "(?i)t2")], found)
    with pytest.raises(RoleMatchError, match="not here"):
        match_roles(ROLES, found, chosen={"T2": "1.2.3.nope"})
    assert match_roles(ROLES, found, chosen={"T2": t2})["T2"] == t2
