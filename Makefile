# One command each: `make setup`, `make test`, `make demo`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/data

.PHONY: screenshots setup test lint quickstart demo demo-city bench chromium constraints clean

# An editable install leaves the project's own modules uncompiled: compiled here, or with
# PYTHONDONTWRITEBYTECODE set every command would compile some 70 of them again (~0.05 s).
$(BIN)/hotspots: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m compileall -q cli pipelines boundaries geo_service
	@touch $@

setup: $(BIN)/hotspots  ## create .venv and install the project with its dev tools

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint  ## ruff, then the whole test suite
	$(BIN)/pytest

# With ../shared/data (a developer's machine, CI) the job reads it: no network, about 2 minutes.
# Without it (a council analyst's fresh clone) the same job fetches everything live from
# police.uk and ONS (time set by the police.uk API and its rate limit; see README).
quickstart: setup  ## the main job: Torbay's wards, residents and 24 months of crime, hot spots precomputed, served on :8000
	@if [ -d "$(SHARED)/police_uk/archive/devon-and-cornwall" ]; then \
		echo "Using the local open data in $(SHARED)"; \
		$(BIN)/hotspots quickstart --force devon-and-cornwall --lad E06000027 --months 24 \
			--archive $(SHARED)/police_uk/archive/devon-and-cornwall \
			--wards $(SHARED)/boundaries/wards_2019/E06000027.geojson \
			--population $(SHARED)/population/lsoa_2011_census_population.csv \
			--lookup $(SHARED)/lookups/ons_LSOA11_to_WD19_LAD19_EW.csv $(ARGS); \
	else \
		echo "No $(SHARED): fetching live from police.uk and ONS (needs internet)"; \
		$(BIN)/hotspots quickstart --force devon-and-cornwall --lad E06000027 --months 24 $(ARGS); \
	fi

demo-city: setup  ## a generated (synthetic) city served on :8000, no data or network needed
	$(BIN)/hotspots demo

demo: setup  ## load Devon and Cornwall crime and Torbay's wards into ./data; count by ward; hotspots
	$(BIN)/hotspots ingest archive $(SHARED)/police_uk/archive/devon-and-cornwall
	$(BIN)/hotspots coverage
	$(BIN)/hotspots boundaries load $(SHARED)/boundaries/wards_2019/E06000027.geojson \
		--name torbay-wards-2019 --scheme ward --vintage 2019 --replace
	$(BIN)/hotspots boundaries counts torbay-wards-2019 --force devon-and-cornwall --from 2020-01
	$(BIN)/hotspots analyse --boundaries torbay-wards-2019 --from 2020-01 --to 2020-12 \
		--weights cchi --top 10 -o data/torbay-harm-hotspots-2020.json --overwrite

bench: setup  ## every benchmark, each against its named baseline
	$(BIN)/python -m benchmarks.ingest_archive
	$(BIN)/python -m benchmarks.assign_areas
	$(BIN)/python -m benchmarks.h3_cover
	$(BIN)/python -m benchmarks.gistar
	$(BIN)/python -m benchmarks.null_calibration
	$(BIN)/python -m benchmarks.compare_schemes
	$(BIN)/python -m benchmarks.map_render
	$(BIN)/python -m benchmarks.service_latency
	$(BIN)/python -m benchmarks.cli_startup
	$(BIN)/python -m benchmarks.london_pipeline
	$(BIN)/python -m benchmarks.national_store
	$(BIN)/python -m benchmarks.service_load
	$(BIN)/python -m benchmarks.admission_flood

constraints: setup  ## re-pin the Docker build (constraints.txt) to this environment's versions
	$(BIN)/python tools/runtime_constraints.py

screenshots: setup  ## refresh docs/img/*.png (the README's screenshots) with headless Chromium
	$(BIN)/python docs/screenshots.py

chromium:  ## Debian's Chromium for the browser tests (needs root; they skip, saying so, without it)
	command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info
