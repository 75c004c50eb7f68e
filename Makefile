# InsureFlow — the two commands that matter are `make run` and `make test`.
# Only python3 (3.11+) is needed: the first target that needs it builds .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help

.PHONY: help install messages run test lint fmt typecheck pytest bench histories clean distclean

# The message catalogues: .po checked in, .mo compiled here (never committed, .gitignore).
LOCALE_DIR := core/locale
CATALOGUES := $(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

help:
	@echo "make run        start Temporal dev server + worker + API (data in .data/)"
	@echo "make messages   extract the texts and update the .po catalogues (then translate)"
	@echo "make test       ruff check, ruff format --check, mypy, import-linter, pytest (fails fast)"
	@echo "make lint       ruff check + ruff format --check + import-linter (the layering)"
	@echo "make fmt        ruff check --fix + ruff format"
	@echo "make typecheck  mypy"
	@echo "make bench      run the benchmarks"
	@echo "make histories  re-record the golden workflow histories (see tests/histories/README.md)"
	@echo "make clean      remove caches and build output (keeps .venv and .data)"
	@echo "make distclean  clean, and remove .venv too"

# Rebuilt whenever pyproject.toml changes; the stamp is written only after pip succeeds.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

# A catalogue is compiled whenever its .po changes (and after a fresh venv, which has pybabel).
$(LOCALE_DIR)/%/LC_MESSAGES/messages.mo: $(LOCALE_DIR)/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -D messages -i $< -o $@

install: $(VENV)/.installed $(COMPILED)

# New or changed texts: extract, merge into every .po (translate the new zh_CN entries;
# tests/core/test_catalogues.py fails until every text has its Chinese).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k refuse:2 --add-location=file --sort-by-file --no-wrap \
		--project=InsureFlow -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages \
		--no-fuzzy-matching --ignore-obsolete --no-wrap

run: $(VENV)/.installed $(COMPILED)
	$(BIN)/insureflow dev

# Each line stops make at its first failure: lint, then types, then tests.
test: $(VENV)/.installed $(COMPILED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed $(COMPILED)
	$(BIN)/pytest

bench: $(VENV)/.installed
	$(BIN)/python -m bench

# Golden histories for the replay test; regenerate only to add scenarios or after a
# versioned change, never to make a replay failure pass.
histories: $(VENV)/.installed
	$(BIN)/python -m tests.histories.regenerate

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache bench/results
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
