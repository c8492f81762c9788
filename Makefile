# The course's two commands: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= cpu
PORT   ?= 8000
# The public site shows solutions collapsed; SOLUTIONS=open builds the instructor view.
SOLUTIONS ?= collapsed
# The cpu build is the site (_build/html); any other profile or view builds beside it, so
# the execution caches of two profiles never mix.
BOOK_OUT := $(if $(filter open,$(SOLUTIONS)),_build/solutions-$(PROFILE),$(if $(filter cpu,$(PROFILE)),.,_build/$(PROFILE)))
LINTED := labsupport tests labs benchmarks tools conftest.py

# The Colab-like environment: Colab's preinstalled versions (colab_versions.txt) on Python 3.13.
COLAB_VENV := .venv-colab
# Colab's Python minor version, from pyenv's versions (its shim on PATH exists but fails
# unless that version is selected), else from PATH.
COLAB_MINOR := $(shell sed -n 's/^python==//p' colab_versions.txt)
COLAB_PYTHON ?= $(or $(shell ls -d $$HOME/.pyenv/versions/$(COLAB_MINOR).*/bin/python$(COLAB_MINOR) 2>/dev/null | sort -V | tail -n 1),$(shell command -v python$(COLAB_MINOR) 2>/dev/null))
# The edit loop: everything but the cpu-profile effect layer, the Colab run, nbgrader's autograding, the
# book, the browser and the slow tests (real training scripts, torchrun launches).
QUICK := not effects and not colab and not book and not browser and not grading and not slow

# pip does not byte-compile what it installs (torch's thousands of modules); Python compiles
# the modules a process imports, once, on first use.
export PIP_NO_COMPILE := 1

.PHONY: setup colab-env preflight book pdf slides test check lint serve bench sync-labs instructor-kit course-model draft-models dist lock clean

setup: $(STAMP)

# requirements.txt names the packages by hand (exact pins); requirements.lock is the whole
# environment beneath them (Sphinx, myst-parser, the nvidia wheels, ...), each package at one
# version with the sha256 of its files on PyPI, resolved by uv for CI's Python and platform.
# Set-up installs from the lock alone, so a fresh machine next term gets the same environment,
# and pip refuses a file whose hash differs. After editing requirements.txt, `make lock`
# rewrites the lock (the only step that needs the package index to resolve; it keeps the
# versions the lock already has unless requirements.txt asks for others); commit both.
LOCK := requirements.lock
LOCK_PYTHON := 3.11.7
LOCK_PLATFORM := x86_64-manylinux_2_28

lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q "$$(grep '^uv==' requirements.txt)"
	$(BIN)/uv pip compile requirements.txt --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
		--python-platform $(LOCK_PLATFORM) --custom-compile-command "make lock" --output-file $(LOCK)

# Runs again only when the lock, the pins or the package metadata change; pip leaves
# already-installed packages (torch included) alone. A pin the lock lacks stops set-up here.
$(STAMP): $(LOCK) requirements.txt pyproject.toml
	@missing=$$(grep -v -e '^#' -e '^$$' requirements.txt | while read -r pin; do \
	  grep -qixF -- "$$pin \\" $(LOCK) || echo "$$pin"; done); \
	if [ -n "$$missing" ]; then \
	  echo "$(LOCK) does not hold $$(echo $$missing) from requirements.txt: run make lock" >&2; exit 1; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Built from colab_versions.txt; rebuilt when that file changes. labsupport is not installed
# here: the Colab test installs it with the labs' own set-up cell.
colab-env: $(COLAB_VENV)/.installed

$(COLAB_VENV)/.installed: colab_versions.txt
	@test -n "$(COLAB_PYTHON)" || { echo "no Python $(COLAB_MINOR) found (pyenv install $(COLAB_MINOR), or COLAB_PYTHON=...)"; exit 1; }
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q --disable-pip-version-check "$$(grep '^pip==' colab_versions.txt)"
	$(COLAB_VENV)/bin/python -m pip install -q --disable-pip-version-check $$(grep -v -e '^#' -e '^python==' -e '^pip==' colab_versions.txt) pytest
	touch $@

book: setup
	LABSUPPORT_PROFILE=$(PROFILE) LABSUPPORT_WIDGETS=static COURSE_SOLUTIONS=$(SOLUTIONS) \
		$(BIN)/jupyter-book build . -W -n --keep-going --path-output $(BOOK_OUT)
	$(BIN)/python -m tools.pdf --html $(BOOK_OUT)/_build/html --out $(BOOK_OUT)/_build/pdf/course.pdf
	@echo "The site: $(abspath $(BOOK_OUT)/_build/html/index.html)"

# The book as one PDF, _build/pdf/course.pdf (tools/pdf.py): every page of the built site in the
# table of contents' order, printed by Debian's Chromium once MathJax has typeset it, offline,
# joined by pypdf with a bookmark per page (about 75 s on 2 cores). A copy goes into the site as
# course.pdf, which the landing page links: make book ends with this step, so the link is never
# dead, and make pdf is make book (on a built site Sphinx redoes only what changed).
pdf: book

# One slide deck per chapter (_build/slides), made from the chapter's own source: its objectives,
# figures, display equations and takeaways, with the diagrams and MathJax copied beside them.
slides: setup
	$(BIN)/python -m tools.slides --out _build/slides

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# What make test needs that make cannot install, checked before anything else: a Python of
# Colab's minor version for the Colab layer. Locally, without one, that layer is skipped and
# the end of the run says so; under CI=true it is an error, in the first seconds.
# Free disk: the two environments take about 12 GB (torch's CUDA build twice), the run's
# artifacts and pip's unpacking about 3 GB more; a full disk fails pip half-way with "No space
# left on device", so it is checked first.
NEED_GB = $(shell echo $$(( 3 + $(if $(wildcard $(STAMP)),0,7) + $(if $(wildcard $(COLAB_VENV)/.installed),0,6) )))
preflight:
	@free=$$(( $$(df -Pk . | awk 'NR==2 {print $$4}') / 1048576 )); \
	if [ "$$free" -lt "$(NEED_GB)" ]; then \
	  echo "make test: $$free GB free on $$(df -P . | awk 'NR==2 {print $$6}'), and this run needs about $(NEED_GB) GB (the two environments and the run's artifacts): free some space (old clones, ~/.cache/pip) and run it again" >&2; exit 1; \
	fi
	@if [ -z "$(COLAB_PYTHON)" ]; then \
	  msg="no Python $(COLAB_MINOR) for the Colab layer (looked for ~/.pyenv/versions/$(COLAB_MINOR).* and python$(COLAB_MINOR) on PATH): install one (pyenv install $(COLAB_MINOR), or your distribution's python$(COLAB_MINOR)-venv), or set COLAB_PYTHON=/path/to/python$(COLAB_MINOR)"; \
	  if [ "$$CI" = true ]; then echo "make test: $$msg" >&2; exit 1; fi; \
	  echo "make test: $$msg; the Colab layer will be skipped" >&2; \
	fi

# Everything: unit tests, every lab under nbval (smoke, widgets live), the effect layer (every
# lab in the cpu profile, its chapter's claims asserted), repeatability, grading, the Colab
# run, the book and the browser. Each lab is executed once per (environment, profile, widget
# mode) and the layers read the kept notebooks (tests/labrun.py). Lab 7's cpu run goes first,
# alone on the machine (its chapter's claims are timing ratios); then two streams run side by
# side: A, the cpu effect runs, the Colab layer and the slow tests; B, nbval over the labs
# first (the cold smoke runs), then everything that reads them (grading, the book's warm runs,
# repeatability) and the rest. Every kernel uses ipc sockets, so the streams' kernel starts
# cannot collide; a test that hangs fails after its timeout with every thread's stack.
ARTIFACTS := tests/artifacts
STREAM_A := effects or colab or slow
test: preflight
	$(MAKE) -j2 setup $(if $(COLAB_PYTHON),colab-env)
	$(MAKE) lint
	@rm -rf $(ARTIFACTS) && mkdir -p $(ARTIFACTS)/logs
	@export LABRUN_STORE=$(abspath $(ARTIFACTS))/runs; \
	echo "--- Lab 7 in the cpu profile, alone on the machine"; \
	$(BIN)/python -m tests.labrun cpu 07_serving || fail=1; \
	echo "--- two streams: A ($(STREAM_A)) logs to $(ARTIFACTS)/logs/stream-a.log; B follows here"; \
	LABSUPPORT_PROFILE=smoke $(BIN)/python -m pytest tests -m "$(STREAM_A)" --durations=30 \
		--junitxml=$(ARTIFACTS)/junit-a.xml >$(ARTIFACTS)/logs/stream-a.log 2>&1 & a=$$!; \
	LABSUPPORT_PROFILE=smoke $(BIN)/python -m pytest labs tests --nbval-lax -m "not ($(STREAM_A))" \
		--durations=30 --junitxml=$(ARTIFACTS)/junit-b.xml || fail=1; \
	wait $$a || fail=1; \
	echo "--- stream A ($(STREAM_A))"; cat $(ARTIFACTS)/logs/stream-a.log; \
	$(BIN)/python -m tests.report || fail=1; \
	test -z "$$fail"

# The edit loop (about 2 minutes): lint, unit tests and every lab under nbval in smoke. Two
# processes run side by side, one torch thread each: the first two labs and then the unit
# tests (tests/test_isolation.py looks at the user's folders after the labs ran), and the
# other labs (the root conftest.py gives their kernels the suite's private cache and ipc
# sockets too); the split balances their times.
UNIT_LABS := labs/01_complexity.ipynb labs/02_scaling_laws.ipynb
check: setup lint
	@log=$$(mktemp); \
	LABSUPPORT_PROFILE=smoke $(BIN)/python -m pytest $(UNIT_LABS) tests --nbval-lax -m "$(QUICK)" -q --durations=5 >$$log 2>&1 & unit=$$!; \
	LABSUPPORT_PROFILE=smoke $(BIN)/python -m pytest $(filter-out $(UNIT_LABS),$(wildcard labs/*.ipynb)) --nbval-lax -q --durations=5 || fail=1; \
	wait $$unit || fail=1; \
	echo "--- unit tests and $(UNIT_LABS)"; cat $$log; rm -f $$log; \
	test -z "$$fail"

serve:
	@test -f _build/html/index.html || { echo "no site yet: run 'make book' first"; exit 1; }
	@echo "Serving http://localhost:$(PORT) (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: setup
	$(BIN)/python benchmarks/lab_times.py --repeats 3
	$(BIN)/python -m tools.sync_labs  # copy the new times into the labs' title cells
	$(BIN)/python benchmarks/threads.py
	$(BIN)/python benchmarks/sweep_speedup.py
	$(BIN)/python benchmarks/double_descent_sweep.py --runs 3 --record benchmarks/double_descent_sweep.md
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/grading_times.py --profiles smoke cpu

# The course's code model (labsupport/weights/), trained from its seed on one CPU thread
# (about ten minutes here). NPROC=2 trains it with DistributedDataParallel under torchrun.
NPROC ?= 1
course-model: setup
	$(if $(filter 1,$(NPROC)),$(BIN)/python,$(BIN)/torchrun --standalone --nproc_per_node $(NPROC)) tools/train_course_model.py

# Lab 7's two draft models, distilled from the course model (about 6 minutes on one core).
draft-models: setup
	$(BIN)/python tools/train_draft_models.py

# The instructor kit (_build/instructor): student versions, solutions, an nbgrader course
# folder and the rubric, made by nbgrader from the labs (in-process; nbgrader runs the
# venv's alembic command, hence PATH).
instructor-kit: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m tools.instructor_kit build --out _build/instructor

sync-labs: setup
	$(BIN)/python -m tools.sync_labs

# The package for the index (tools/dist.py): the wheel and sdist of nn-complexity-labs in dist/,
# built from the checkout's files with .venv's setuptools, then `twine check --strict`.
dist: setup
	$(BIN)/python -m tools.dist --out dist

clean:
	rm -rf _build $(COLAB_VENV)
