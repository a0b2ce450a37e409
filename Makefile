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
# mutants/ is rebuilt every time, so a changed test is traced again (mutmut only traces new
# ones). Score: killed (or timed out) over all mutants; a mutant no test runs counts as a survivor.
# One module: `make mutate MUTATE=debugger.sampling`.
MUTATE ?= debugger.ingest debugger.archive_writer debugger.sampling debugger.rules debugger.query \
	debugger.delivery.sender debugger.delivery.backoff replay.checkpoint replay.transform
MUTATE_CHILDREN ?= 2

mutate: $(STAMP)
	@rm -rf mutants && mkdir -p mutants
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
		  if ($$2 == "not checked" || $$2 == "skipped") { unchecked[m]++; next; } \
		  total[m]++; if ($$2 == "killed" || $$2 == "timeout" || $$2 == "caught by type check") killed[m]++; } \
		END { printf "%-26s %8s %8s %7s %12s\n", "module", "mutants", "killed", "score", "not checked"; \
		      for (i = 1; i <= n; i++) { m = mods[i]; \
		        printf "%-26s %8d %8d %6.1f%% %12d\n", m, total[m], killed[m], \
		          total[m] ? 100 * killed[m] / total[m] : 0, unchecked[m]; } }'
	@echo "surviving mutants: $(BIN)/mutmut results; one in full: $(BIN)/mutmut show NAME"

clean:
	rm -rf $(VENV) build *.egg-info
