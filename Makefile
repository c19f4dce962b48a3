# Two set-up commands: `make run` and `make test`. Each works on a fresh machine
# with only Python 3.11 and make: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-faults lint install browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and CJK fonts for the end-to-end browser tests. Playwright's
# own browser download cannot work on an offline network, so the tests launch
# /usr/bin/chromium. Skipped when both are present already.
browser:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		echo "chromium and fonts-noto-cjk already present"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy govlake lake transforms views policies app

test: install browser
	$(BIN)/ruff check .
	$(BIN)/mypy govlake lake transforms views policies app
	$(BIN)/python -m pytest -q -x --durations=15; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test-faults: install
	$(BIN)/python -m pytest -q -m faults --durations=15

# The main job, then the dashboard (http://localhost:8501) once this GovLake has one.
run: install
	$(BIN)/govlake demo
	@if $(BIN)/govlake app --help >/dev/null 2>&1; then $(BIN)/govlake app; \
	else echo "The dashboard is not part of this version yet; explore with .venv/bin/govlake tables / sql."; fi

clean:
	rm -rf $(VENV) govlake_home test-output
