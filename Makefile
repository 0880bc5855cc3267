# paystream: `make up` runs the system, `make test` runs every check.
UV := $(shell scripts/ensure-uv.sh)

.PHONY: up down status test lint fmt bench contracts

up:
	scripts/sync.sh
	$(UV) run python -m infra.local up

down:
	$(UV) run python -m infra.local down

status:
	$(UV) run python -m infra.local status

test:
	scripts/test.sh

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports

contracts:
	$(UV) run python -m contracts.generate

fmt:
	$(UV) run ruff check --fix .
	$(UV) run ruff format .
