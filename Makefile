# coloc_viewer: `make run` opens the viewer on the bundled demo, `make test` runs everything.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint install sysdeps bench package clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	@# quantus pulls in opencv-python, whose cv2 sets QT_QPA_PLATFORM_PLUGIN_PATH to its own
	@# Qt plugins and breaks PySide6 in the same process: keep only the headless build.
	$(PY) -m pip uninstall --quiet -y opencv-python
	$(PY) -m pip install --quiet --force-reinstall --no-deps opencv-python-headless
	touch $(STAMP)

install: $(STAMP)

# System packages the window and some tests need (Qt's xcb libraries, Xvfb, xdotool,
# ImageMagick, dicom3tools, Orthanc for tests/pacs): installed where this user may, else
# named in one line (the tests that need them then skip, naming the packages).
sysdeps:
	@bash tools/install_system_deps.sh window dicom pacs

run: $(STAMP)
	$(VENV)/bin/coloc-viewer

lint: $(STAMP)
	$(VENV)/bin/ruff check coloc_viewer tests benchmarks tools packaging
	$(VENV)/bin/lint-imports

test: sysdeps lint
	$(PY) -m pytest

# Builds the PyInstaller bundle and the .deb, and smoke-tests both with a clean environment
# (about 10 minutes and 12 GB of disk; see docs/packaging.md).
package: $(STAMP) sysdeps
	$(PY) -m pip install --quiet 'pyinstaller==6.22.3'
	COLOC_VIEWER_PACKAGE_TESTS=1 $(PY) -m pytest tests/packaging/test_bundle.py -q -p no:cacheprovider

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
