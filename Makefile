# coloc_viewer: `make run` opens the viewer on the bundled demo, `make test` runs everything.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint install bench clean

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

run: $(STAMP)
	$(VENV)/bin/coloc-viewer

lint: $(STAMP)
	$(VENV)/bin/ruff check coloc_viewer tests benchmarks tools
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
