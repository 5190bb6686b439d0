# What every speech recipe's run.sh does after setting its option defaults and $_po_vars (Kaldi's
# utils/parse_options.sh + path.sh + cmd.sh preamble), sourced as `. "$recipe/utils/common.sh" "$@"`:
# parses the options, sets up the environment and the job launchers, one OpenMP/BLAS thread per job, the
# data and log dirs; defines run_stage, banner and run_train_jobs. The recipe defines train_model (usually via train_speech_model).
# Lives in recipes/utils/, shared Kaldi-style: each recipe links utils -> ../utils.

# shellcheck source=parse_options.sh
. "$recipe/utils/parse_options.sh"
if [ $# -gt 0 ]; then
  echo "$0: unexpected argument(s): $*" >&2
  exit 1
fi
case "$stage$stop_stage" in
  *[!0-9]*|"") echo "$0: --stage and --stop-stage take stage numbers (got '$stage', '$stop_stage')" >&2; exit 1 ;;
esac
if [ "$stage" -gt "$stop_stage" ]; then
  echo "$0: --stage $stage is after --stop-stage $stop_stage: no stage would run" >&2
  exit 1
fi
# shellcheck source=../path.sh
. "$recipe/path.sh"
# shellcheck source=../cmd.sh
. "$recipe/cmd.sh"

# Small RNNs on shared CPU cores: one OpenMP/BLAS thread per job. Competing intra-op threads made training
# and embedding tens of times slower on a busy 2-core machine. Set OMP_NUM_THREADS yourself to override.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

[ -n "$data_root" ] || data_root="$(dirname "$exp")/data"
log_dir="$exp/log"
mkdir -p "$exp" "$log_dir"

run_stage() {  # run_stage N: true when stage N is selected
  [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]
}
banner() {
  echo "=== stage $1: $2 ($(date +%H:%M:%S))"
}
run_train_jobs() {  # run_train_jobs "NAME|CONFIG|KEY=VALUE ..." ...: train_model NAME CONFIG KEY=VALUE...
  # for each, at most $train_jobs at once; exits naming the failed ones
  local pids=() names=() failed="" job name config sets k
  for job in "$@"; do
    IFS='|' read -r name config sets <<< "$job"
    # shellcheck disable=SC2086 # sets is a list of KEY=VALUE words on purpose
    train_model "$name" "$config" $sets &
    pids+=($!)
    names+=("$name")
    if [ "${#pids[@]}" -ge "$train_jobs" ]; then
      wait "${pids[0]}" || failed="$failed ${names[0]}"
      pids=("${pids[@]:1}")
      names=("${names[@]:1}")
    fi
  done
  for k in "${!pids[@]}"; do
    wait "${pids[$k]}" || failed="$failed ${names[$k]}"
  done
  if [ -n "$failed" ]; then
    echo "$0: training failed:$failed (see the train_* logs under $log_dir)" >&2
    exit 1
  fi
}
train_speech_model() {  # train_speech_model DATA VALID OUT CONFIG [KEY=VALUE...]: speechdis train (--steps
  # overrides train.steps; skipped when OUT/model.pt exists, resumed from OUT/checkpoints/latest.pt)
  local data="$1" valid="$2" out="$3" config="$4"
  shift 4
  local args=(--config "$config" --data "$data" --valid "$valid" --out "$out")
  for kv in "$@"; do args+=(--set "$kv"); done
  [ -z "$steps" ] || args+=(--set "train.steps=$steps")
  if [ -f "$out/model.pt" ]; then
    echo "$out: trained already"
    return 0
  fi
  [ -f "$out/checkpoints/latest.pt" ] && args+=(--resume)
  $train_cmd "$log_dir/train_$(basename "$out").log" speechdis train "${args[@]}" >/dev/null
}
evaluate() {  # evaluate DATA OUT MODEL_SPECS... [OPTIONS]: std (with DTW), speaker, probes in one pass
  # (uses $device, $dtw_budget and, where the recipe sets it, $dtw_max_pairs)
  local data="$1" out="$2"
  shift 2
  $train_cmd "$log_dir/evaluate_$(basename "$out").log" speechdis evaluate all --data "$data" "$@" \
    --out "$out" --device "$device" --dtw-budget "$dtw_budget" ${dtw_max_pairs:+--dtw-max-pairs "$dtw_max_pairs"} \
    --no-plots >/dev/null
}
