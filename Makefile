# Two commands on a fresh machine with Python 3.11:  `make demo`  and  `make test`.
# Both create or update .venv from the pinned requirements first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo demo-pipeline demo-eval test test-fast bench clean browser

venv: $(STAMP)

$(STAMP): requirements/base.txt requirements/dev.txt requirements/nodeps.txt requirements/deepspeed.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3
	$(BIN)/python -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements/nodeps.txt
	DS_BUILD_OPS=0 $(BIN)/python -m pip install -q --no-deps --no-build-isolation -r requirements/deepspeed.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The whole system on Lingshu-Nano (docs/pipeline.md): curate the bundled raw data, train the
# four stages, evaluate after each, publish runs/demo/final. It first prints the expected time
# for this machine (bf16 where the CPU has it, else fp32: docs/performance.md); a second run
# answers from the step cache in seconds; a killed one resumes.
demo: venv
	@$(BIN)/python scripts/demo_expected_time.py
	$(BIN)/lingshu pipeline --recipe nano

demo-pipeline: demo

# The evaluation kit alone: the embedded SmolLM2-135M-Instruct on 110 bundled real benchmark
# questions (a few minutes; a second run answers from the response cache in seconds).
demo-eval: venv
	$(BIN)/lingshu demo

# The web page is tested in Debian's chromium, driven by Playwright (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install -y chromium' for the browser test"; fi; }

test: venv browser
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

bench: venv
	$(BIN)/python bench/eval_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
