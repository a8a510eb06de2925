# Every target builds its own virtualenv first: nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-http fuzz clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: serve the ported "Changing JWT Claims" example on 127.0.0.1
demo: $(STAMP)
	$(BIN)/python examples/flask_claims.py

## lint: ruff over everything, mypy --strict over the package
lint: $(STAMP)
	$(BIN)/ruff check jwt_wsgi tests examples
	$(BIN)/mypy --strict jwt_wsgi
	$(BIN)/mypy --strict tests examples

## test: lint, then the whole suite (benchmarks run once each, untimed)
test: lint
	$(BIN)/pytest --benchmark-disable

## bench: the side-by-side benchmarks, with a table of medians and ratios
bench: $(STAMP)
	$(BIN)/pytest tests/benchmarks --benchmark-only --benchmark-columns=median,iqr,rounds \
		--benchmark-sort=name --benchmark-warmup=on --benchmark-max-time=2 -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks .hypothesis *.egg-info

## bench-http: gunicorn + wrk on 127.0.0.1, with and without the middleware
bench-http: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_http.py

## fuzz: the hypothesis properties with many more examples (minutes, not seconds)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_properties.py -q
