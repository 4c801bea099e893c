# strikegrid developer targets. `make demo` and `make test` are the two README commands.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv dev demo test test-rust test-python lint docs bench peers clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python

# Editable install with the release profile (optimised kernels) and the test extras.
dev: venv
	$(BIN)/pip install --quiet "maturin>=1.7,<2" numpy
	$(BIN)/pip install --quiet -e ".[test,dev]"

demo: venv
	$(BIN)/pip install --quiet .
	$(BIN)/strikegrid demo
	$(BIN)/strikegrid screen --strategy cash_secured_put --dte 20:60 --delta -0.30:-0.15 --top 10

test-rust:
	cargo test --workspace --release

test-python: dev
	$(BIN)/python -m pytest -q

# Every test, then the lint gates (formatting, clippy and rustdoc -D warnings, ruff, mypy, stub
# check) and the documentation build.
test: test-rust test-python lint docs

lint: dev
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	$(BIN)/ruff check python tests benches tools
	$(BIN)/ruff format --check python tests benches tools
	$(BIN)/python -m mypy python/strikegrid
	$(BIN)/python -m mypy.stubtest strikegrid._core --allowlist .ci/stubtest-allowlist.txt

# The documentation (docs/, mkdocs.yml) into site/; --strict fails on any warning (a broken
# link, a page missing from the nav, a docstring the API reference cannot render). The
# examples on the pages run in tests/test_docs.py.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet

bench: dev
	$(BIN)/pip install --quiet pytest-benchmark scipy
	$(BIN)/python -m pytest benches -q --benchmark-only

peers: dev
	$(BIN)/python benches/peers.py

clean:
	rm -rf target $(VENV) python/strikegrid/*.so
