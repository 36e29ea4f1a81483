# Insight Days: `make run` starts everything locally, `make test` runs every test.
.PHONY: install install-test run test lint bench simulate clean fuzz
# An unset APP_ENV means production (secrets required); everything make starts here is local development.
export APP_ENV ?= development

install:
	bash scripts/install.sh

install-test:
	bash scripts/install.sh --test

run: install
	bash scripts/run.sh

test: install-test
	.venv/bin/ruff check .
	.venv/bin/pytest

# Property-based fuzzing of the whole public API (schemathesis on /api/v1/openapi.json of a running system) at a
# larger budget than `make test` runs it with: no answer may be a server error.
fuzz: install-test
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-40} .venv/bin/pytest tests/security/test_authz_matrix.py -k fuzz --timeout 7200

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: install
	.venv/bin/python bench/run_all.py

simulate: install
	.venv/bin/python scripts/simulate.py $(ARGS)

clean:
	rm -rf var/
