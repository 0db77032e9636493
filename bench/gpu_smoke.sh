#!/usr/bin/env bash
# A short check of every path a real run takes, on one CUDA GPU (a few minutes):
#   bash bench/gpu_smoke.sh            # pretrain (compiled, bf16, resumed), host-wait count, cached probe, fine-tune, 2 processes
#   bash bench/gpu_smoke.sh --cpu      # the same script at a tiny size on the CPU
# Extra arguments go to bench/gpu_smoke.py (e.g. --json smoke.json).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import mae_nb" 2>/dev/null || { echo "bench/gpu_smoke.sh: mae_nb is not importable here; install it first (pip install -e .)" >&2; exit 1; }
exec python bench/gpu_smoke.py "$@"
