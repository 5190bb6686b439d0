#!/usr/bin/env bash
# Runs the whole test suite in the project's environment (created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/env.sh
# Small models on shared cores: competing intra-op threads cost far more than they give.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec python -m pytest tests "$@"
