#!/usr/bin/env bash
# Runs the whole test suite in the project's environment (created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/env.sh
exec python -m pytest tests "$@"
