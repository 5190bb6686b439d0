#!/usr/bin/env bash
# Real human speech: Speech Commands (one-word clips by many speakers), Kaldi-style.
# Train on train speakers, choose on dev speakers, report once on test speakers and on FSDD (unseen people).
#
#   bash recipes/speechcommands/run.sh                                    # ../shared/data/speech_commands
#   bash recipes/speechcommands/run.sh --corpus /data/speech_commands_v0.02 --nj 8
#   bash recipes/speechcommands/run.sh --stage 2 --stop-stage 3           # the dev ablations only
#
# Stages (each calls the speechdis CLI and can be rerun on its own):
#   0  data          speechdis prepare speechcommands (speaker-disjoint train/dev/test, noise apart) and
#                    speechdis prepare fsdd (when --fsdd exists)
#   1  features      speechdis features (conf/mfcc.yaml: 39-dim Kaldi MFCC; stored raw, CMVN on reading)
#   2  dev ablations (only with --ablations true) every conf/ablations/*.yaml, seed 0, trained on train
#   3  dev table     (only with --ablations true) speechdis evaluate std/speaker/probes on the dev speakers
#   4  train         the final configs (conf/train_baseline.yaml, conf/train_disentangled.yaml) × --seeds
#   5  evaluate      speechdis evaluate std/speaker/probes on the test speakers and on FSDD: DTW,
#                    mfcc-stats, every trained model
#   6  report        per-system table on test speakers and FSDD, mean ± std over seeds
#   7  package       (only with --export-pretrained true) copy the seed-0 models (declared in advance, not
#                    picked on test) into speechdis/pretrained/ — the models `load_model("speechcommands")` loads
#
# Data dirs go to <exp>/../data, models and reports to --exp. Nothing derived from the corpus is committed.
set -euo pipefail

recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$recipe/../.." && pwd)"

stage=0
stop_stage=7
nj=2
corpus="$root/../shared/data/speech_commands"
fsdd="$root/../shared/data/fsdd"
exp="$recipe/exp"
data_root=""                 # default: $(dirname exp)/data
feat_config="$recipe/conf/mfcc.yaml"
train_config_baseline="$recipe/conf/train_baseline.yaml"
train_config_disentangled="$recipe/conf/train_disentangled.yaml"
seeds="0 1 2"
steps=""                     # override train.steps of every training config
train_jobs=2                 # models trained at once (one thread each)
ablations=false              # stages 2-3: the dev ablation table
export_pretrained=false      # stage 7: replace the packaged models with this run's seed-0 models
device=auto
dtw_max_pairs=3000000        # DTW pairs per task (seeded sample above it): reproducible rows on any machine
dtw_budget=1800              # seconds: a safety cap only (a cut is reported; its pairs depend on machine load)
_po_vars="stage stop_stage nj corpus fsdd exp data_root feat_config train_config_baseline
  train_config_disentangled seeds steps train_jobs ablations export_pretrained device dtw_max_pairs dtw_budget"
# shellcheck source=utils/common.sh
. "$recipe/utils/common.sh" "$@"

have_fsdd=false
[ -d "$fsdd/recordings" ] && have_fsdd=true

train_model() {  # train_model OUT CONFIG [KEY=VALUE...] (utils/common.sh: train_speech_model)
  train_speech_model "$data_root/train" "$data_root/dev" "$@"
}
t_start=$(date +%s)

if run_stage 0; then
  banner 0 "data"
  if [ ! -d "$corpus" ]; then
    echo "$0: $corpus: no such directory (set --corpus to a Speech Commands release or test-set folder)" >&2
    exit 1
  fi
  speechdis prepare speechcommands "$corpus" "$data_root"
  for split in train dev test; do speechdis prepare validate "$data_root/$split"; done
  if $have_fsdd; then
    speechdis prepare fsdd "$fsdd" "$data_root/fsdd"
  else
    echo "no FSDD at $fsdd: the FSDD table is skipped"
  fi
fi

dirs=("$data_root/train" "$data_root/dev" "$data_root/test")
$have_fsdd && dirs+=("$data_root/fsdd")

if run_stage 1; then
  banner 1 "features"
  for dir in "${dirs[@]}"; do
    $train_cmd "$log_dir/features_$(basename "$dir").log" \
      speechdis features "$dir" --nj "$nj" --config "$feat_config" --no-progress
  done
fi

if [ "$ablations" = true ] && run_stage 2; then
  banner 2 "dev ablations (seed 0)"
  jobs_list=()
  for conf in "$recipe"/conf/ablations/*.yaml; do
    jobs_list+=("$exp/ablations/$(basename "$conf" .yaml)|$conf|train.seed=0")
  done
  run_train_jobs "${jobs_list[@]}"
fi

if [ "$ablations" = true ] && run_stage 3; then
  banner 3 "dev table"
  specs=()
  for conf in "$recipe"/conf/ablations/*.yaml; do
    name="$(basename "$conf" .yaml)"
    specs+=(--model "$name=$exp/ablations/$name")
  done
  evaluate "$data_root/dev" "$exp/ablations/eval_dev" "${specs[@]}"
  python "$recipe/local/seed_table.py" "$exp/ablations/eval_dev" --title "dev speakers (model selection)"
fi

final_specs=()
for seed in $seeds; do
  for kind in baseline disentangled; do
    final_specs+=(--model "${kind}_seed$seed=$exp/${kind}_seed$seed")
  done
done

if run_stage 4; then
  banner 4 "train baseline and disentangled, seeds $seeds"
  jobs_list=()
  for seed in $seeds; do
    jobs_list+=("$exp/baseline_seed$seed|$train_config_baseline|train.seed=$seed")
    jobs_list+=("$exp/disentangled_seed$seed|$train_config_disentangled|train.seed=$seed")
  done
  run_train_jobs "${jobs_list[@]}"
fi

if run_stage 5; then
  banner 5 "evaluate on test speakers$($have_fsdd && echo ' and FSDD')"
  evaluate "$data_root/test" "$exp/eval_test" "${final_specs[@]}"
  if $have_fsdd; then evaluate "$data_root/fsdd" "$exp/eval_fsdd" "${final_specs[@]}"; fi
fi

if run_stage 6; then
  banner 6 "report"
  python "$recipe/local/seed_table.py" "$exp/eval_test" --title "Speech Commands test speakers (unseen)"
  if $have_fsdd; then python "$recipe/local/seed_table.py" "$exp/eval_fsdd" --title "FSDD (4 unseen speakers)"; fi
fi

if [ "$export_pretrained" = true ] && run_stage 7; then
  banner 7 "package the seed-0 models"
  for kind in baseline disentangled; do
    cp "$exp/${kind}_seed0/model.pt" "$root/speechdis/pretrained/speechcommands_$kind.pt"
  done
  ls -l "$root/speechdis/pretrained/"*.pt
fi

echo "=== done: stages $stage-$stop_stage in $(( $(date +%s) - t_start ))s"
