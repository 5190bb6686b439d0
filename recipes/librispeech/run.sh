#!/usr/bin/env bash
# Phonetic/speaker disentanglement on LibriSpeech, Kaldi-style.
#
#   bash recipes/librispeech/run.sh --corpus /data/LibriSpeech --alignments /data/librispeech_alignments
#   bash recipes/librispeech/run.sh --stage 5 --stop-stage 6          # re-evaluate only
#
# Stages (each calls the speechdis CLI and can be rerun on its own):
#   0  data preparation   speechdis prepare librispeech (train and test subsets, word alignments); a subset
#                         that gets no word_segments (transcripts but no alignments) is force-aligned with
#                         speechdis align (--align auto; needs speechdis[align]; --align yes: always, no: never)
#   1  features           speechdis features (conf/mfcc.yaml: 39-dim MFCC, per-utterance CMVN)
#   2  train baseline     speechdis train (seq2seq autoencoder; --resume when a checkpoint exists)
#   3  train disentangled speechdis train (phonetic/speaker autoencoder; --resume likewise);
#                         stages 2 and 3 run at the same time when both are selected (--train-jobs 2)
#   4  extract            speechdis extract (test-set vectors: npz + Kaldi ark/scp)
#   5  evaluate           speechdis evaluate all (STD with DTW, speaker verification, probes, plots)
#   6  report             speechdis evaluate report (prints the final table)
#   7  seed study         (only when asked, e.g. --stage 7 --stop-stage 7) both models trained with each of
#                         --seeds, evaluated like stage 5 (speechdis evaluate all, no plots): a table of QbE MAP,
#                         speaker EER and probes, NAME_seedN pooled into mean ± std (seed_table.py)
#
# Jobs go through the launchers of cmd.sh (SPEECHDIS_CMD=local|slurm|sge): features and extraction as job
# arrays of --nj tasks (speechdis features/extract --nj N --job JOB, then --combine), training as one task, or
# under torchrun with --nproc-per-node P processes per node on --nnodes N nodes (an array of N tasks that meet
# at --rdzv-endpoint HOST:PORT, a host one of the tasks runs on; see the README, "Running on a cluster").
#
# Relative paths are relative to the directory you run this from. Data dirs go to --data-root
# (default: <exp>/../data), features to <data dir>/data, models and reports to --exp.
set -euo pipefail

recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ----------------------------------------------------------------------------------------- options
stage=0
stop_stage=6
nj=4                     # jobs of the feature and extraction job arrays
corpus="${LIBRISPEECH:-/export/corpora5/LibriSpeech}"
alignments=""            # file or dir of word alignments; empty: look inside the corpus subsets
align=auto               # stage 0: speechdis align a subset without word_segments (auto), always (yes), never (no)
lexicon=""               # stage 0: extra pronunciations for speechdis align --lexicon
train_subset=train-clean-100
test_subset=test-clean
exp="$recipe/exp"
data_root=""             # default: $(dirname exp)/data
feat_config="$recipe/conf/mfcc.yaml"
train_config_baseline="$recipe/conf/train_baseline.yaml"
train_config_disentangled="$recipe/conf/train_disentangled.yaml"
steps=""                 # override train.steps of both training configs
train_jobs=2             # 2: stages 2 and 3 train at the same time (one thread each); 1: one after the other
device=auto
nnodes=1                 # training: torchrun nodes (one array task per node)
nproc_per_node=1         # training: torchrun processes per node (GPUs per node); 1 with --nnodes 1: no torchrun
rdzv_endpoint=""         # training with --nnodes > 1: HOST:PORT of the c10d rendezvous (required)
train_gpu=0              # GPUs requested per training task from the launcher (--gpu)
dtw_budget=300           # seconds of frame-level DTW search in stage 5 (0: no limit)
max_queries_per_word=""  # cap queries per word in stage 5 (empty: every segment of a repeated word)
eval_opts=""             # more options for `speechdis evaluate all`, e.g. "--windows --trials 2000"
seeds="0 1 2"            # stage 7: training seeds
_po_vars="stage stop_stage nj corpus alignments align lexicon train_subset test_subset exp data_root feat_config
  train_config_baseline train_config_disentangled steps train_jobs device nnodes nproc_per_node rdzv_endpoint train_gpu
  dtw_budget max_queries_per_word eval_opts
  seeds"
# shellcheck source=utils/common.sh
. "$recipe/utils/common.sh" "$@"

train_dir="$data_root/$train_subset"
test_dir="$data_root/$test_subset"
eval_dir="$exp/eval_$test_subset"

train_model() {  # train_model NAME CONFIG [KEY=VALUE...]: trains into $exp/NAME
  local name="$1" config="$2" out="$exp/$1"
  shift 2
  local args=(--config "$config" --data "$train_dir" --out "$out")
  for kv in "$@"; do args+=(--set "$kv"); done
  [ -z "$steps" ] || args+=(--set "train.steps=$steps")
  if [ -f "$out/checkpoints/latest.pt" ]; then
    args+=(--resume)
    echo "resuming $name from $out/checkpoints/latest.pt"
  fi
  if [ "$nnodes" -eq 1 ] && [ "$nproc_per_node" -eq 1 ]; then
    $cuda_cmd --gpu "$train_gpu" "$log_dir/train_$name.log" speechdis train "${args[@]}"
  elif [ "$nnodes" -eq 1 ]; then
    $cuda_cmd --gpu "$train_gpu" "$log_dir/train_$name.log" \
      torchrun --standalone --nnodes 1 --nproc-per-node "$nproc_per_node" -m speechdis train "${args[@]}"
  else
    # One task per node; torchrun on each joins the rendezvous at $rdzv_endpoint (DDP: nccl on GPUs, gloo on CPU).
    $cuda_cmd --gpu "$train_gpu" JOB=1:"$nnodes" "$log_dir/train_$name.JOB.log" \
      torchrun --nnodes "$nnodes" --nproc-per-node "$nproc_per_node" --rdzv-backend c10d \
      --rdzv-endpoint "$rdzv_endpoint" --rdzv-id "speechdis_${name//\//_}" -m speechdis train "${args[@]}"
  fi
}
grid_array() {  # grid_array CMD LOGNAME COMMAND... : COMMAND --nj $nj --job JOB as a job array, then --combine
  local cmd="$1" logname="$2"
  shift 2
  if [ "$nj" -eq 1 ]; then
    $cmd "$log_dir/$logname.log" "$@"
    return
  fi
  $cmd JOB=1:"$nj" "$log_dir/$logname.JOB.log" "$@" --nj "$nj" --job JOB
  $cmd "$log_dir/$logname.log" "$@" --nj "$nj" --combine
}
if [ "$nnodes" -gt 1 ] && [ -z "$rdzv_endpoint" ]; then
  echo "$0: --nnodes $nnodes needs --rdzv-endpoint HOST:PORT (a host one of the training tasks runs on)" >&2
  exit 1
fi
t_start=$(date +%s)

if run_stage 0; then
  banner 0 "data preparation"
  for subset in "$train_subset" "$test_subset"; do
    if [ ! -d "$corpus/$subset" ]; then
      echo "$0: $corpus/$subset: no such directory (set --corpus to the LibriSpeech root)" >&2
      exit 1
    fi
    align_opt=()
    [ -z "$alignments" ] || align_opt=(--alignments "$alignments")
    speechdis prepare librispeech --corpus "$corpus" --subset "$subset" ${align_opt[@]+"${align_opt[@]}"} \
      "$data_root/$subset"
    if [ "$align" = yes ] || { [ "$align" = auto ] && [ ! -s "$data_root/$subset/word_segments" ]; }; then
      lex_opt=()
      [ -z "$lexicon" ] || lex_opt=(--lexicon "$lexicon")
      echo "$subset: no word alignments: forced alignment (speechdis align)"
      if [ "$nj" -gt 1 ]; then  # a job array of --nj tasks, then a run without --job merges them
        $train_cmd JOB=1:"$nj" "$log_dir/align_$subset.JOB.log" speechdis align "$data_root/$subset" \
          ${lex_opt[@]+"${lex_opt[@]}"} --nj "$nj" --job JOB --no-progress
      fi
      $train_cmd "$log_dir/align_$subset.log" speechdis align "$data_root/$subset" ${lex_opt[@]+"${lex_opt[@]}"} \
        --nj "$nj" --no-progress
      tail -n 4 "$log_dir/align_$subset.log"
    fi
    speechdis prepare validate "$data_root/$subset"
  done
fi

if run_stage 1; then
  banner 1 "features"
  for dir in "$train_dir" "$test_dir"; do
    grid_array "$train_cmd" "features_$(basename "$dir")" \
      speechdis features "$dir" --config "$feat_config" --no-progress
  done
fi

if run_stage 2 && run_stage 3 && [ "$train_jobs" -ge 2 ]; then
  # Both models at once: each job is single-threaded, so two cores train two models.
  banner 2 "train the baseline autoencoder (in parallel with stage 3)"
  banner 3 "train the disentangled autoencoder (in parallel with stage 2)"
  run_train_jobs "baseline|$train_config_baseline|" "disentangled|$train_config_disentangled|"
else
  if run_stage 2; then
    banner 2 "train the baseline autoencoder"
    run_train_jobs "baseline|$train_config_baseline|"
  fi
  if run_stage 3; then
    banner 3 "train the disentangled autoencoder"
    run_train_jobs "disentangled|$train_config_disentangled|"
  fi
fi

if run_stage 4; then
  banner 4 "extract test-set embeddings"
  for name in baseline disentangled; do
    grid_array "$decode_cmd" "extract_$name" speechdis extract --model "$exp/$name" "$test_dir" \
      --out "$exp/embeddings/${name}_$test_subset" --format both --device "$device" --no-progress
  done
fi

# Options of `speechdis evaluate all` in stages 5 and 7.
opts=(--dtw-budget "$dtw_budget")
[ -z "$max_queries_per_word" ] || opts+=(--max-queries-per-word "$max_queries_per_word")
# shellcheck disable=SC2206 # eval_opts is a list of words on purpose
[ -z "$eval_opts" ] || opts+=($eval_opts)

if run_stage 5; then
  banner 5 "evaluate"
  # The final table is printed once: by stage 6 when it runs, else here (the log keeps it either way).
  table_out=/dev/stdout
  [ "$stop_stage" -lt 6 ] || table_out=/dev/null
  $train_cmd "$log_dir/evaluate.log" speechdis evaluate all --data "$test_dir" \
    --model "baseline=$exp/baseline" --model "disentangled=$exp/disentangled" --out "$eval_dir" \
    --device "$device" "${opts[@]}" >"$table_out"
fi

if run_stage 6; then
  banner 6 "report"
  speechdis evaluate report "$eval_dir"
fi

if run_stage 7; then
  banner 7 "seed study (seeds: $seeds)"
  # Every (model, seed) run is one single-threaded job; at most --train-jobs run at once.
  jobs_list=()
  specs=()
  for seed in $seeds; do
    for pair in "baseline|$train_config_baseline" "disentangled|$train_config_disentangled"; do
      name="seeds/${pair%%|*}_seed$seed"
      specs+=(--model "${name#seeds/}=$exp/$name")
      if [ -f "$exp/$name/model.pt" ]; then
        echo "$name: trained already"
      else
        jobs_list+=("$name|${pair#*|}|train.seed=$seed")
      fi
    done
  done
  run_train_jobs ${jobs_list[@]+"${jobs_list[@]}"}
  # The same evaluation as stage 5 for every seed (DTW and mfcc-stats do not depend on the seed), then one
  # table pooled over seeds; no t-SNE/DET plots for 2 x seeds models.
  $train_cmd "$log_dir/evaluate_seeds.log" speechdis evaluate all --data "$test_dir" "${specs[@]}" \
    --out "$exp/seeds/eval_$test_subset" --device "$device" --no-plots "${opts[@]}" >/dev/null
  python "$recipe/../speechcommands/local/seed_table.py" "$exp/seeds/eval_$test_subset" \
    --title "$test_subset, seeds $seeds (mean ± std)"
fi

echo "=== done: stages $stage-$stop_stage in $(( $(date +%s) - t_start ))s"
