# The course's two commands: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= cpu
PORT   ?= 8000
# The cpu build is the site (_build/html); any other profile builds beside it, so the
# execution caches of two profiles never mix.
BOOK_OUT := $(if $(filter cpu,$(PROFILE)),.,_build/$(PROFILE))
LINTED := labsupport tests labs benchmarks tools

.PHONY: setup book test lint serve bench sync-labs clean

setup: $(STAMP)

# Runs again only when the pinned requirements or the package metadata change; pip
# leaves already-installed pins (torch included) alone.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: setup
	LABSUPPORT_PROFILE=$(PROFILE) LABSUPPORT_WIDGETS=static \
		$(BIN)/jupyter-book build . -W -n --keep-going --path-output $(BOOK_OUT)
	@echo "The site: $(abspath $(BOOK_OUT)/_build/html/index.html)"

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

test: setup lint
	LABSUPPORT_PROFILE=smoke LABSUPPORT_WIDGETS=static \
		$(BIN)/python -m pytest tests labs --nbval-lax --durations=15

serve:
	@test -f _build/html/index.html || { echo "no site yet: run 'make book' first"; exit 1; }
	@echo "Serving http://localhost:$(PORT) (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: setup
	$(BIN)/python benchmarks/lab_times.py --repeats 3
	$(BIN)/python tools/sync_labs.py  # copy the new times into the labs' title cells
	$(BIN)/python benchmarks/threads.py
	$(BIN)/python benchmarks/sweep_speedup.py

sync-labs: setup
	$(BIN)/python tools/sync_labs.py

clean:
	rm -rf _build
