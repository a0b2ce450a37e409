# Two commands do all the set-up on a fresh machine: `make live` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ARGS ?= --demo

.PHONY: live test bench clean mutate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

live: $(STAMP)
	$(BIN)/segdebug live $(ARGS)

test: $(STAMP)
	$(BIN)/mypy
	$(BIN)/ruff check debugger replay tests bench samples
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

# Mutation testing, not part of `make test` (minutes per module): each module's mutants
# ([tool.mutmut] in pyproject.toml), its log in mutants/MODULE.log, then the score per module.
MUTATE ?= debugger.ingest debugger.archive_writer debugger.sampling debugger.rules debugger.query \
	replay.sender replay.backoff replay.checkpoint replay.transform
MUTATE_CHILDREN ?= 2

mutate: $(STAMP)
	@mkdir -p mutants
	@for m in $(MUTATE); do \
		start=$$(date +%s); \
		$(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) "$$m.*" > mutants/$$m.log 2>&1 \
			|| { tail -20 mutants/$$m.log; exit 1; }; \
		echo "$$m: $$(( $$(date +%s) - start )) s"; \
	done
	@$(BIN)/mutmut results --all true | awk -F': ' -v want="$(MUTATE)" ' \
		BEGIN { n = split(want, mods, " "); } \
		{ name = $$1; sub(/^ +/, "", name); \
		  for (i = 1; i <= n; i++) if (index(name, mods[i] ".") == 1) { m = mods[i]; break; } \
		  if (i > n) next; \
		  total[m]++; if ($$2 == "killed" || $$2 == "timeout" || $$2 == "caught by type check") killed[m]++; \
		  else if ($$2 == "not checked") unchecked[m]++; } \
		END { printf "%-26s %8s %8s %7s\n", "module", "mutants", "killed", "score"; \
		      for (i = 1; i <= n; i++) { m = mods[i]; run = total[m] - unchecked[m]; \
		        printf "%-26s %8d %8d %6.1f%%\n", m, run, killed[m], run ? 100 * killed[m] / run : 0; } }'
	@echo "surviving mutants: $(BIN)/mutmut results; one in full: $(BIN)/mutmut show NAME"

clean:
	rm -rf $(VENV) build *.egg-info
