#!/usr/bin/env bash
# The GPU benchmark in one command (bench/gpu_bench.py says what it measures).
#
#   bench/gpu.sh --prepare    here, once: unpack the carried packages into .gpu-carry/site
#   bench/gpu.sh              on the GPU machine: the benchmark (< 5 min on an H200)
#   bench/gpu.sh --dry-run    anywhere: the same code on the CPU at tiny sizes (seconds)
#
# Other arguments go to bench/gpu_bench.py (--out DIR, --budget S, --only A,B, --skip A,B).
# Results: gpu_bench.json and gpu_bench.md (and gpu_bench.log) under $OUT when set.
#
# The lent GPU machines have torch, numpy, scipy, pandas, pyyaml, scikit-learn, pillow and
# matplotlib but no pydantic (nor Ray, MLflow, Optuna, clean-fid), and cannot install anything.
# --prepare downloads pydantic with its compiled core for CPython 3.12 / manylinux x86_64 (the
# machines' Python) plus its pure-Python needs, at the versions this checkout's venv has, and
# unpacks the wheels into .gpu-carry/site (about 8 MB, ignored by git). Name .gpu-carry in the
# device tool's `carry`; this script puts it on PYTHONPATH when pydantic is not importable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARRY="$ROOT/.gpu-carry"
PY="${PYTHON:-python3}"

if [[ "${1:-}" == "--prepare" ]]; then
  PREP="${PREP_PYTHON:-$ROOT/.venv/bin/python}"
  [[ -x "$PREP" ]] || PREP=python3
  # pin to the versions the tests here run with
  mapfile -t PINS < <("$PREP" - <<'PYEOF'
from importlib.metadata import version
for name in ("pydantic", "pydantic-core", "annotated-types", "typing-inspection",
             "typing-extensions"):
    print(f"{name}=={version(name)}")
PYEOF
)
  rm -rf "$CARRY" && mkdir -p "$CARRY/wheels" "$CARRY/site"
  "$PREP" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$CARRY/wheels" "${PINS[@]}" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
  for w in "$CARRY"/wheels/*.whl; do
    "$PREP" -m zipfile -e "$w" "$CARRY/site"   # a wheel is a zip laid out for site-packages
  done
  rm -rf "$CARRY/wheels"
  echo "prepared $CARRY/site: ${PINS[*]} ($(du -sh "$CARRY" | cut -f1))"
  exit 0
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c 'import pydantic' 2>/dev/null; then
  if [[ -d "$CARRY/site" ]]; then
    export PYTHONPATH="$PYTHONPATH:$CARRY/site"
  else
    echo "gpu.sh: pydantic is not importable and $CARRY/site is missing:" \
         "run 'bench/gpu.sh --prepare' where pip works, and carry .gpu-carry" >&2
    exit 2
  fi
fi
export PYTHONUNBUFFERED=1
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  "$PY" "$ROOT/bench/gpu_bench.py" "$@" 2>&1 | tee "$OUT/gpu_bench.log"
else
  exec "$PY" "$ROOT/bench/gpu_bench.py" "$@"
fi
