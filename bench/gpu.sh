#!/usr/bin/env bash
# The GPU throughput table of bench/README.md, from a fresh checkout, in one command:
#   bash bench/gpu.sh            # one CUDA GPU: images/s, MFU and peak memory per configuration (about 6 minutes)
#   bash bench/gpu.sh --smoke    # the same script at a tiny size on the CPU (about a minute)
# Extra arguments go to bench/gpu.py (e.g. --bs 128, --json results.json); see `python bench/gpu.py --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import mae_nb" 2>/dev/null || { echo "bench/gpu.sh: mae_nb is not importable here; install it first (pip install -e .)" >&2; exit 1; }
exec python bench/gpu.py "$@"
