#!/usr/bin/env bash
# Usage: run_local.sh [OPTIONS] [JOB=1:N] LOGFILE COMMAND [ARGS...]
# The local stand-in for Kaldi's run.pl, with the calling convention of utils/slurm.sh and utils/sge.sh.
#
# Without JOB=1:N: runs COMMAND here, copies its output (stdout + stderr) to LOGFILE and to the terminal,
# and exits with COMMAND's status.
# With JOB=1:N (any name: JOB, TASK, ...): runs N copies at once as separate processes, the name replaced
# by 1..N in LOGFILE and every argument (log/features.JOB.log, --job JOB), output to the logs only; exits 1
# when any copy failed, naming them.
# Options: --max-jobs-run M (at most M copies at a time; default all). --mem, --time, --gpu, --num-threads
# and --config take a value and are ignored here (they are for the grid wrappers), so run.sh can pass the
# same options whichever launcher cmd.sh selects.
set -o pipefail
max_jobs=0
while [ $# -gt 0 ]; do
  case "$1" in
    --max-jobs-run) max_jobs="$2"; shift 2 ;;
    --mem|--time|--gpu|--num-threads|--config) shift 2 ;;
    --*) echo "$0: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
var="" first=1 last=1
if [[ "${1:-}" =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
  var="${BASH_REMATCH[1]}" first="${BASH_REMATCH[2]}" last="${BASH_REMATCH[3]}"
  shift
  if [ "$first" -gt "$last" ]; then
    echo "$0: empty job range $first:$last" >&2
    exit 2
  fi
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 [--max-jobs-run M] [JOB=1:N] LOGFILE COMMAND [ARGS...]" >&2
  exit 2
fi

run_one() {  # run_one SHOW LOGFILE COMMAND...: SHOW=1 also prints the output here
  local show="$1" log="$2" start status
  shift 2
  mkdir -p "$(dirname "$log")"
  {
    echo "# $*"
    echo "# started at $(date)"
  } >"$log"
  start=$(date +%s)
  if [ "$show" = 1 ]; then
    "$@" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
  else
    "$@" >>"$log" 2>&1
    status=$?
  fi
  echo "# ended at $(date) with status $status after $(( $(date +%s) - start ))s" >>"$log"
  return "$status"
}

if [ -z "$var" ]; then
  run_one 1 "$@"
  exit $?
fi

log_tpl="$1"
shift
pids=() ids=()
failed=()
for ((k = first; k <= last; k++)); do
  args=()
  for a in "$@"; do args+=("${a//$var/$k}"); done
  run_one 0 "${log_tpl//$var/$k}" "${args[@]}" &
  pids+=($!)
  ids+=("$k")
  if [ "$max_jobs" -gt 0 ] && [ "${#pids[@]}" -ge "$max_jobs" ]; then
    wait "${pids[0]}" || failed+=("${ids[0]}")
    pids=("${pids[@]:1}")
    ids=("${ids[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${ids[$i]}")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "$0: ${#failed[@]} / $((last - first + 1)) failed (job(s) ${failed[*]}); logs: ${log_tpl//$var/${failed[0]}} ..." >&2
  exit 1
fi
exit 0
