#!/usr/bin/env bash
# Usage: run_local.sh LOGFILE COMMAND [ARGS...]
# Runs COMMAND, copies its output (stdout + stderr) to LOGFILE and to the terminal, and exits with
# COMMAND's status (the local stand-in for Kaldi's run.pl).
set -o pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 LOGFILE COMMAND [ARGS...]" >&2
  exit 2
fi
log="$1"
shift
mkdir -p "$(dirname "$log")"
{
  echo "# $*"
  echo "# started at $(date)"
} >"$log"
start=$(date +%s)
"$@" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
echo "# ended at $(date) with status $status after $(( $(date +%s) - start ))s" >>"$log"
exit "$status"
