# Every target builds the virtualenv it needs first: nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The other CPythons to test on (3.11 is $(PYTHON)); pyenv keeps them here.
MATRIX ?= $(sort $(wildcard $(HOME)/.pyenv/versions/3.1[2-9].*/bin/python3))

.PHONY: demo test test-fast lint imports test-min test-matrix wheel docs bench bench-http drill fuzz clean

# The package in development mode and every tool (PEP 735 groups, so none of
# them is published with the package). pip 25.1 or newer reads the groups.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[flask,redis]' --group dev
	touch $(STAMP)

# The OpenID Provider the suite runs against (node-oidc-provider, pinned by the lock file).
OIDC := tests/fixtures/oidc/node_modules/.installed
$(OIDC): tests/fixtures/oidc/package.json tests/fixtures/oidc/package-lock.json
	npm ci --prefix tests/fixtures/oidc --no-audit --no-fund --loglevel=error
	touch $(OIDC)

## demo: serve the ported "Changing JWT Claims" example on 127.0.0.1
demo: $(STAMP)
	$(BIN)/python examples/flask_claims.py

## lint: ruff (lint and format) over everything, mypy --strict over package, tests, examples
lint: $(STAMP)
	$(BIN)/ruff check jwt_wsgi tests examples
	$(BIN)/ruff format --check jwt_wsgi tests examples
	$(BIN)/mypy --strict jwt_wsgi
	$(BIN)/mypy --strict tests examples
	$(BIN)/lint-imports --no-cache

## imports: the package's import graph, its cycles and private cross-module imports (none)
imports: $(STAMP)
	$(BIN)/python -m tests.import_graph

## test: lint, then the whole suite with branch coverage (benchmarks run once, untimed)
test: lint $(OIDC)
	$(BIN)/pytest --benchmark-disable --cov --cov-report=term

## test-fast: the tests needing nothing but Python (no Redis, browser, server process or waits)
test-fast: $(STAMP)
	$(BIN)/pytest --benchmark-disable -q -p no:cacheprovider \
		-m "not redis and not browser and not server and not slow and not drill"

## test-min: the suite with every dependency (extras too) at the floor setup.cfg declares
# flask-jwt-extended (a benchmark peer) needs PyJWT 2.11 from 4.7.2 on.
test-min: $(STAMP) $(OIDC)
	$(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import configparser, re; c = configparser.ConfigParser(); \
		c.read('setup.cfg'); reqs = c['options']['install_requires'].split(chr(10)); \
		reqs += [r for extra in c['options.extras_require'].values() for r in extra.split(chr(10))]; \
		print(chr(10).join(re.sub(r'\[.*?\]', '', r).split(',')[0].replace('>=', '==') \
		for r in reqs if r.strip()))" > .venv-min/floors.txt
	echo 'flask-jwt-extended<4.7.2' >> .venv-min/floors.txt
	.venv-min/bin/python -m pip install --quiet -c .venv-min/floors.txt -e . --group test
	.venv-min/bin/python -m pip freeze | grep -iE '^(pyjwt|cryptography|werkzeug|webob|flask|redis|prometheus.client)=='
	.venv-min/bin/pytest --benchmark-disable -q -p no:cacheprovider -m "not drill"

## test-matrix: the suite on every other installed CPython 3.12+ (pyenv)
test-matrix: $(OIDC)
	@test -n "$(MATRIX)" || { echo "no CPython 3.12+ found under ~/.pyenv"; exit 1; }
	set -e; for python in $(MATRIX); do \
		version=$$($$python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
		echo "== CPython $$version"; \
		$$python -m venv .venv-$$version; \
		.venv-$$version/bin/python -m pip install --quiet --upgrade pip; \
		.venv-$$version/bin/python -m pip install --quiet -e '.[flask,redis]' --group test; \
		.venv-$$version/bin/pytest --benchmark-disable -q -p no:cacheprovider -m "not drill"; \
	done

## wheel: build the wheel, install it alone in a clean virtualenv, run its command
wheel: $(STAMP)
	rm -rf dist .venv-wheel
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet dist/jwt_wsgi-*.whl
	.venv-wheel/bin/python -c "import jwt_wsgi, pathlib; \
		assert (pathlib.Path(jwt_wsgi.__file__).parent / 'py.typed').is_file()"
	.venv-wheel/bin/jwt-wsgi keygen --out dist/key.jwk > dist/public.jwk
	.venv-wheel/bin/jwt-wsgi mint ci --key dist/key.jwk \
		| .venv-wheel/bin/jwt-wsgi verify --key dist/public.jwk --alg ES256 --json

## docs: the reference from the docstrings, warnings as errors, snippets doctested
docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	$(BIN)/sphinx-build -q -W --keep-going -b doctest docs docs/_build/doctest

## bench: the side-by-side benchmarks, with a table of medians and ratios
bench: $(STAMP)
	$(BIN)/pytest tests/benchmarks --benchmark-only --benchmark-columns=median,iqr,rounds \
		--benchmark-sort=name --benchmark-warmup=on --benchmark-max-time=2 -q

## bench-http: gunicorn + wrk on 127.0.0.1, with and without the middleware
bench-http: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_http.py

## drill: the failure drill (gunicorn under load; Redis failed over, restarted, frozen); a table
drill: $(STAMP)
	DRILL_REPORT=drill-report.md $(BIN)/pytest tests/test_drill.py -q -s -p no:cacheprovider

## fuzz: the hypothesis properties with many more examples (minutes, not seconds)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_properties.py -q

clean:
	rm -rf drill-report.md tests/fixtures/oidc/node_modules $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache .benchmarks .hypothesis \
		*.egg-info .coverage htmlcov docs/_build dist build
