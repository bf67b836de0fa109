# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source scripts/env.sh
APP := .venv-app/bin
RASA := .venv-rasa/bin

.PHONY: help setup data model run test test-faults call clean

help:
	@echo "make run   - set up everything (venvs, demo database, knowledge index, Rasa model) and start all services"
	@echo "make test  - set up what is missing and run the whole test suite"
	@echo "make test-faults - only the fault tests on the multi-process setup (2x Rasa, actions, backend; HAProxy; PostgreSQL)"
	@echo "make call  - play a phone call with the running assistant in the terminal (FROM=+44... to call from a number)"
	@echo "make clean - remove generated data (var/, models/, results/); keeps the virtual environments"

setup:
	@bash scripts/setup.sh

# Demo database (seeded once) and knowledge index (rebuilt only when the corpus or model changed).
data: setup
	@$(ENV) && $(APP)/python -m backend.seed && $(APP)/python -m knowledge_index build --if-stale

model: setup
	@$(ENV) && $(RASA)/python scripts/train_if_stale.py

run: data model
	@$(ENV) && echo "==> starting backend :$$BACKEND_PORT, action server :$$ACTION_PORT, Rasa :$$RASA_PORT" \
	  && exec $(APP)/honcho start -f Procfile

test: data model
	@bash scripts/test.sh

# Part of `make test`; alone: processes killed, backends down, duplicate messages, PostgreSQL restarted (tests/faults).
test-faults: data model
	@bash scripts/test_faults.sh

# A phone call in the terminal against `make run`'s stack, signed like Twilio's (README "Phone (Twilio Voice)").
call:
	@$(ENV) && $(APP)/python scripts/call.py "$(FROM)"

clean:
	rm -rf var models results
