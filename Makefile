# The project's everyday commands. Each creates the virtual environment first if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every process reads the environment only (README, Configuration): the .env of the
# Compose stack is not for the laptop's flask commands either.
export FLASK_SKIP_DOTENV := 1

.PHONY: run test lint fmt bench services clean up doctor

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## run: web, worker, beat and the mail catcher on the embedded default; Ctrl-C stops all
run: $(STAMP)
	$(BIN)/flask --app campaign db upgrade
	$(BIN)/flask --app campaign dev

## test: the whole suite (real SMTP sink, real Celery worker process)
test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: quick benchmarks (< 3 min): the sending engine and the web routes against
## their ceilings; needs smtp-sink (Debian postfix) and wrk; PostgreSQL and Redis if up
bench: $(STAMP)
	$(BIN)/python -m bench.send --n 3000 --runs 3 --ceiling-n 1500
	$(BIN)/python -m bench.web --runs 3 --seconds 2

## services: start local Redis and PostgreSQL (Debian packages) for the production-like run
services:
	bash .ci/services.sh

clean:
	rm -rf $(VENV) var .pytest_cache

## up: the production stack with Docker Compose (needs .env; see .env.example)
up:
	test -f .env || (echo "copy .env.example to .env and fill it in first" && exit 1)
	docker compose up -d --build

## doctor: check configuration and services
doctor: $(STAMP)
	$(BIN)/flask --app campaign doctor
