# Two entry points for a fresh machine (see README "Quick start"):
#   make demo   set up, generate a demo library, analyse it, show the results
#   make test   set up, run the whole test suite (one pytest worker per core: pytest-xdist)
# Setup is one pip command so the pinned CPU torch is resolved together with everything
# else; HNSWLIB_NO_NATIVE=1 builds a portable hnswlib (no -march=native).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test clean-demo

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	HNSWLIB_NO_NATIVE=1 $(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	DJML_HOME=$(CURDIR)/.demo $(BIN)/djml demo

test: $(STAMP)
	$(BIN)/pytest -n auto --dist loadfile

clean-demo:
	rm -rf .demo
