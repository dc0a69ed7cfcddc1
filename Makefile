# genomcore-sdk: every install and check step lives here.
# Only `python3` (>= 3.11) is needed on the machine; the venv is made on demand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
GEN_PKG := genomcore_ts_api
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv generate check-generated lint typecheck test test-fast demo bench bench-emulator emulator clean docs

help:
	@echo "make demo             upload, query and delete the real sample against a local emulator"
	@echo "make test             generated-code drift check, ruff, mypy --strict (package + examples/typed_usage.py), the whole test suite"
	@echo "make bench            upload benchmarks (not part of make test)"
	@echo "make docs             the documentation site, into site/ (strict: any warning fails)"
	@echo "make bench-emulator   the emulator's ingest speed alone (pre-serialized bodies)"
	@echo "make generate         regenerate generated/ from openapi.yaml"
	@echo "make emulator         run the emulator on 127.0.0.1:8080 (token: dev-token)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Generate into a scratch folder with the pinned generator and ruff (found on
# PATH by the generator's post-hooks), add the py.typed marker. The recipe lives
# in scripts/generate_client.py, shared with the regeneration drill test.
define generate_into
	$(PY) scripts/generate_client.py --spec openapi.yaml --output "$(1)"
endef

generate: $(STAMP)
	$(call generate_into,$(CURDIR)/.gen-tmp)
	rm -rf generated/$(GEN_PKG) && mkdir -p generated && mv .gen-tmp/$(GEN_PKG) generated/ && rm -rf .gen-tmp
	@echo "generated/$(GEN_PKG) rebuilt from openapi.yaml"

check-generated: $(STAMP)
	$(eval TMPGEN := $(shell mktemp -d))
	$(call generate_into,$(TMPGEN))
	@diff -r "$(TMPGEN)/$(GEN_PKG)" generated/$(GEN_PKG) -x __pycache__ \
		|| (echo "generated/ differs from what openapi.yaml generates: run 'make generate' and commit"; rm -rf "$(TMPGEN)"; exit 1)
	@rm -rf "$(TMPGEN)"
	@echo "generated/ is up to date with openapi.yaml"

LINT_PATHS := genomcore_sdk tests examples conftest.py scripts docs/examples $(wildcard benchmarks/*.py)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy genomcore_sdk examples/typed_usage.py

test: check-generated lint typecheck
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -x

demo: $(STAMP)
	$(PY) examples/demo.py examples/data/actigraphy_week.csv

# (a) the vendor's script style, (b) this SDK, (c) the floor, against one emulator process;
# the last line is `bench: sdk_vs_naive=<b/a> sdk_vs_floor=<c/b> peak_rss_mb=<MB>`.
bench: $(STAMP)
	$(PY) benchmarks/upload_bench.py

# mkdocs-material + mkdocstrings, strict. tests/test_docs_examples.py builds it in make test too.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench-emulator: $(STAMP)
	$(PY) benchmarks/emulator_ingest.py

emulator: $(STAMP)
	$(BIN)/genomcore emulator --port 8080 --db emulator.sqlite3 --token dev-token --refresh-token dev-refresh

clean:
	rm -rf $(VENV) .gen-tmp .pytest_cache .mypy_cache .ruff_cache build dist
