#!/usr/bin/env bash
# Usage: grid.sh --backend slurm|sge [OPTIONS] [JOB=1:N] LOGFILE COMMAND [ARGS...]
# Kaldi's slurm.pl / queue.pl in bash (called through utils/slurm.sh and utils/sge.sh): writes a batch script
# to <dir of LOGFILE>/q/<name>.sh, submits it as a job array (sbatch --array=1-N, qsub -t 1:N), waits for it and
# exits 1 unless every task ended with status 0 (read from the last line of its log, like Kaldi).
# JOB (any name) is replaced by the task number in LOGFILE and in every argument.
#
# Options (each one must be defined in the config, as in Kaldi's conf/slurm.conf / conf/queue.conf):
#   --config FILE        default conf/slurm.conf or conf/queue.conf beside this recipe
#   --mem SIZE           memory per task, e.g. 4G
#   --time HH:MM:SS      wall-clock limit per task
#   --gpu N              GPUs per task
#   --num-threads N      CPU cores per task
#   --max-jobs-run M     at most M tasks of the array at a time
#   --dry-run            write the script and print the submit command; submit nothing (also GRID_DRY_RUN=1)
set -o pipefail
# The recipe is the directory above the utils/ link we were called through (logical path: utils/ is a
# symlink to recipes/utils, so "$here/.." would be recipes/, not the recipe).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipe_dir="${here%/*}"
backend="" config="" dry_run="${GRID_DRY_RUN:-0}"
declare -A given=()
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --mem|--time|--gpu|--num-threads|--max-jobs-run)
      key="${1#--}"; given["${key//-/_}"]="$2"; shift 2 ;;
    --*) echo "$0: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
case "$backend" in
  slurm) directive="#SBATCH"; task_var='SLURM_ARRAY_TASK_ID'; default_conf="$recipe_dir/conf/slurm.conf" ;;
  sge) directive='#$'; task_var='SGE_TASK_ID'; default_conf="$recipe_dir/conf/queue.conf" ;;
  *) echo "$0: --backend slurm|sge required" >&2; exit 2 ;;
esac
config="${config:-$default_conf}"
var="" first=1 last=1 array=0
if [[ "${1:-}" =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
  var="${BASH_REMATCH[1]}" first="${BASH_REMATCH[2]}" last="${BASH_REMATCH[3]}" array=1
  shift
  [ "$first" -le "$last" ] || { echo "$0: empty job range $first:$last" >&2; exit 2; }
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 --backend slurm|sge [OPTIONS] [JOB=1:N] LOGFILE COMMAND [ARGS...]" >&2
  exit 2
fi
log_tpl="$1"
shift

# ----------------------------------------------------------------------- the config (Kaldi's format)
# command <submit command and fixed options>
# default <key>=<value>            applied when the option is not given
# option <key>=<value> [flags]     flags for exactly that value (none: nothing to add)
# option <key>=* <flags with $0>   flags for any other value, $0 = the value
[ -f "$config" ] || { echo "$0: no config $config" >&2; exit 2; }
submit=()
declare -A exact=() pattern=() defaults=()
while read -r kind rest; do
  case "$kind" in
    ''|'#'*) ;;
    command) read -r -a submit <<< "$rest" ;;
    default) defaults["${rest%%=*}"]="${rest#*=}" ;;
    option)
      kv="${rest%% *}"; flags=""; [ "$kv" = "$rest" ] || flags="${rest#* }"
      k="${kv%%=*}" v="${kv#*=}"
      if [ "$v" = "*" ]; then pattern["$k"]="$flags"; else exact["$k=$v"]="$flags"; fi ;;
    *) echo "$0: $config: unknown line: $kind $rest" >&2; exit 2 ;;
  esac
done < "$config"
[ "${#submit[@]}" -gt 0 ] || { echo "$0: $config has no 'command' line" >&2; exit 2; }
for k in "${!defaults[@]}"; do
  [ -n "${given[$k]+x}" ] || given["$k"]="${defaults[$k]}"
done
directives=()
add_flags() {  # add_flags "FLAGS": one directive line per option (a word starting with -, and its values)
  local line="" w
  for w in $1; do
    if [[ "$w" == -* ]] && [ -n "$line" ]; then directives+=("$line"); line=""; fi
    line="${line:+$line }$w"
  done
  [ -z "$line" ] || directives+=("$line")
}
max_jobs=""
for k in $(printf '%s\n' "${!given[@]}" | sort); do
  v="${given[$k]}"
  if [ "$k" = max_jobs_run ]; then max_jobs="$v"; continue; fi
  if [ -n "${exact[$k=$v]+x}" ]; then
    add_flags "${exact[$k=$v]}"
  elif [ -n "${pattern[$k]+x}" ]; then
    add_flags "${pattern[$k]//\$0/$v}"
  else
    echo "$0: --${k//_/-} $v: no 'option $k=...' line in $config" >&2
    exit 2
  fi
done

# ----------------------------------------------------------------------- the batch script
qdir="$(cd "$(dirname "$log_tpl")" 2>/dev/null && pwd || { mkdir -p "$(dirname "$log_tpl")" && cd "$(dirname "$log_tpl")" && pwd; })/q"
mkdir -p "$qdir"
name="$(basename "$log_tpl")"
name="${name%.log}"
script="$qdir/$name.sh"
jobname="$(basename "$(dirname "$qdir")")_$name"
logdir="$(dirname "$qdir")"
log_q="$logdir/$(basename "$log_tpl")"
cmd=""
for a in "$@"; do
  q="$(printf '%q' "$a")"
  [ -z "$var" ] || q="${q//$var/\$\{$var\}}"
  cmd="${cmd:+$cmd }$q"
done
log_line="$(printf '%q' "$log_q")"
[ -z "$var" ] || log_line="${log_line//$var/\$\{$var\}}"
{
  echo "#!/usr/bin/env bash"
  echo "$directive --job-name=${jobname//[^A-Za-z0-9_.-]/_}" | sed "s/^#\\$ --job-name=/#\$ -N /"
  if [ "$backend" = slurm ]; then
    echo "#SBATCH --output=$qdir/$name.%a.out"
    [ "$array" = 0 ] || echo "#SBATCH --array=$first-$last${max_jobs:+%$max_jobs}"
  else
    echo "#\$ -o $qdir/$name.\$TASK_ID.out"
    echo "#\$ -j y"
    echo "#\$ -cwd"
    [ "$array" = 0 ] || echo "#\$ -t $first:$last"
    [ -z "$max_jobs" ] || echo "#\$ -tc $max_jobs"
  fi
  for d in "${directives[@]}"; do echo "$directive $d"; done
  echo "cd $(printf '%q' "$PWD")"
  [ -z "$var" ] || echo "$var=\${$task_var:-$first}"
  echo "log=$log_line"
  echo 'mkdir -p "$(dirname "$log")"'
  printf '{ echo %q; echo "# started at $(date) on $(hostname)"; } >"$log"\n' "# $*"
  echo 'start=$(date +%s)'
  echo "( $cmd ) >>\"\$log\" 2>&1"
  echo 'status=$?'
  echo 'echo "# ended at $(date) with status $status after $(( $(date +%s) - start ))s" >>"$log"'
  echo 'exit "$status"'
} >"$script"
chmod +x "$script"

if [ "$backend" = slurm ]; then
  run=("${submit[@]}" --wait "$script")
else
  run=("${submit[@]}" -sync y "$script")
fi
if [ "$dry_run" = 1 ]; then
  echo "${run[*]}"
  exit 0
fi
"${run[@]}" >"$qdir/$name.submit.out" 2>&1
submit_status=$?
failed=()
for ((k = first; k <= last; k++)); do
  lg="$log_q"
  [ -z "$var" ] || lg="${log_q//$var/$k}"
  tail -n 1 "$lg" 2>/dev/null | grep -q ' with status 0 after ' || failed+=("$k")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "$0: ${#failed[@]} / $((last - first + 1)) failed (task(s) ${failed[*]}); submit status $submit_status" \
    "(see $qdir/$name.submit.out); logs: $log_q" >&2
  exit 1
fi
exit 0
