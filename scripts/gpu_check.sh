#!/usr/bin/env bash
# GPU acceptance check (issue 19): packed bf16 SFT == unpacked, DeepSpeed ZeRO-3 on one GPU,
# the vllm backend == the hf backend on 20 questions, 2 GRPO steps with vLLM colocate; one
# table. Needs one CUDA GPU and the project's virtualenv; under 8 minutes (each check has its
# own limit in scripts/gpu_check.py). Not run by the tests or CI.
#   bash scripts/gpu_check.sh                 # from the repository root
#   PYTHON=/path/to/venv/bin/python bash scripts/gpu_check.sh --only zero3
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
