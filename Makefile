# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
GF := $(VENV)/bin/groupfinder
PORT ?= 8000
export PORT

.PHONY: run test fuzz bench bench-search bench-ingest setup system-deps db-start db-stop lint translations

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

LEAFLET_VERSION := 1.9.4
LEAFLET := finder/static/vendor/leaflet/leaflet.js
# browser tests drive Debian's chromium; Playwright must never download a browser
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(LEAFLET): scripts/vendor-leaflet.sh
	@bash scripts/vendor-leaflet.sh $(LEAFLET_VERSION)

setup: system-deps $(VENV)/.installed $(LEAFLET)

system-deps:
	@bash scripts/system-deps.sh

db-start: system-deps
	@bash scripts/devdb.sh start

db-stop:
	@bash scripts/devdb.sh stop

run: setup db-start
	$(GF) db upgrade
	$(GF) places load-bundled
	$(GF) demo load
	$(GF) ingest run --all
	@# last, so the demo logins are what the terminal shows above the server's log
	$(GF) demo accounts
	$(GF) serve --port $(PORT)

test: setup db-start
	$(PY) -m pytest -q

# generated API requests (schemathesis), thousands of them: FUZZ_MAX_EXAMPLES per operation
fuzz: setup db-start
	GROUPFINDER_TEST_DATABASE=groupfinder_fuzz FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-1000} \
	  $(PY) -m pytest -q -s tests/test_api_fuzz.py

bench: bench-search bench-ingest

bench-search: setup db-start
	$(PY) -m bench.run

bench-ingest: setup db-start
	$(PY) -m bench.ingest

lint: setup
	$(VENV)/bin/ruff check finder ingest tests bench

# after changing interface text: extract messages, update the Spanish catalog, compile
translations: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext -o finder/translations/messages.pot .
	$(PY) -m finder.web.i18n_catalog finder/translations/messages.pot
	$(VENV)/bin/pybabel update -i finder/translations/messages.pot -d finder/translations --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d finder/translations
