"""The public API names of DESIGN.md section 3 resolve to callables, in any import order."""

import importlib
import subprocess
import sys

import coloc_viewer


def test_api_names_are_callable():
    for name in ("load_volume", "load_roi", "save_roi", "load_model", "explain", "score"):
        assert callable(getattr(coloc_viewer, name)), name


def test_explain_stays_callable_after_submodule_import():
    importlib.import_module("coloc_viewer.explain.engine")
    from coloc_viewer import explain
    from coloc_viewer.explain.engine import explain as engine_explain

    assert callable(explain)
    assert callable(coloc_viewer.explain)
    assert engine_explain is not explain  # the package forwards to the engine function


def test_import_is_light():
    """``import coloc_viewer`` must not pull in torch or Qt (CLI start-up, imaging scripts)."""
    code = "import sys, coloc_viewer; print('torch' in sys.modules, 'PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
