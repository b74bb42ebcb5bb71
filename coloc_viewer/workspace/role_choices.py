"""The series a reader chose for each input role of a multi-series model, per study.

One small JSON file per study under ``<root>/study-inputs/<key>.json`` (root: the data
directory, or the GUI's workspace root). ``key`` is a hash of the StudyInstanceUID (else of
the study's folder) and the file holds ``{"models": {model: {role: hash of series key}}}``:
no UID, path, name or description, so nothing in it identifies a patient.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from coloc_viewer.workspace.atomic import atomic_write_json
from coloc_viewer.workspace.paths import KEY_LENGTH, data_dir

FOLDER = "study-inputs"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def study_store_key(study_uid: str | None, folder: str | os.PathLike[str] | None) -> str:
    """A hash of the StudyInstanceUID (preferred) or of the study's absolute folder."""
    if study_uid:
        return _hash("study:" + str(study_uid).strip())
    if folder:
        return _hash("path:" + os.path.normcase(os.path.abspath(os.fspath(folder))))
    raise ValueError("a study needs a StudyInstanceUID or a folder")


def choice_hash(series_key: str) -> str:
    """What is stored for a chosen series (its key hashed)."""
    return _hash("series:" + str(series_key))


class RoleChoices:
    """Read and write the remembered role choices (atomic writes)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.folder = (Path(root) if root is not None else data_dir()) / FOLDER

    def _path(self, study: str) -> Path:
        if not study or any(c not in "0123456789abcdef" for c in study):
            raise ValueError("not a study key")
        return self.folder / f"{study}.json"

    def _read(self, study: str) -> dict:
        path = self._path(study)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, study: str, model: str) -> dict[str, str] | None:
        """{role: choice hash} remembered for ``model`` on ``study`` (None: nothing)."""
        found = (self._read(study).get("models") or {}).get(str(model))
        if not isinstance(found, dict):
            return None
        return {str(k): str(v) for k, v in found.items()}

    def put(self, study: str, model: str, choice: dict[str, str]) -> None:
        """Remember ``choice`` ({role: choice hash}) for ``model`` on ``study``."""
        data = self._read(study)
        models = data.setdefault("models", {})
        models[str(model)] = {str(k): str(v) for k, v in choice.items()}
        atomic_write_json(self._path(study), data)
