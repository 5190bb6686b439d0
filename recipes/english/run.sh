#!/usr/bin/env bash
# The packaged English model: all the real speech of ../shared/data combined (Speech Commands, FSDD, aligned
# speechocean762 words), speaker-disjoint train/dev/test per corpus, Kaldi-style.
#
#   bash recipes/english/run.sh                                   # corpora under ../shared/data
#   bash recipes/english/run.sh --ablations true --stop-stage 5   # the dev ablation table only
#   bash recipes/english/run.sh --stage 6 --seeds "0 1 2" --final-sets "loss.ctc_weight=1.0"  # another final
#
# Stages (each calls the speechdis CLI and can be rerun on its own):
#   0  prepare    speechdis prepare speechcommands (train/dev/test speakers), fsdd (2 train / 2 held-out
#                 of its 4 speakers via prepare split-speakers), speechocean762 (train/dev/test speakers)
#   1  align      speechdis align on the speechocean762 sentences (PocketSphinx; the corpus lexicon merged)
#   2  combine    speechdis prepare combine: train = sc + fsdd + so762 train speakers, dev = sc + so762 dev
#                 (--augment KINDS: + speechdis prepare augment of train -> train_aug, e.g. noise,telephone with
#                 Speech Commands' _silence_ clips as the noise; training then reads train_aug)
#   3  features   speechdis features (conf/mfcc.yaml) of the combined train/dev and of every held-out set
#   4  ablations  (only with --ablations true) every line of conf/ablations.txt, seed 0, same steps
#   5  dev table  (only with --ablations true) speechdis evaluate on the so762 and sc dev speakers and
#                 speaker EER on whole so762 dev sentences
#   6  train      conf/train.yaml + --final-sets × --seeds; then (--backend-lda-dim, default 48; "" = none) the
#                 speaker back end of each seed (speechdis backend: global mean, LDA, length norm) fitted on the
#                 so762 train speakers' whole sentences and 3 s chunks -> <model dir>/model_backend.pt, evaluated
#                 beside the raw model as english_lda
#   7  evaluate   each corpus's held-out speakers (sc test, so762 test, fsdd held-out): DTW, mfcc-stats and
#                 every seed in one table per corpus; speaker EER on 3 s chunks of the so762 test sentences and
#                 on whole sentences (speechdis prepare chunks), with mfcc-stats and Resemblyzer where installed
#   8  report     per-corpus tables, mean ± std over seeds (local/seed_table.py)
#   9  package    (only with --export-pretrained true) seed 0 (with its back end when fitted) ->
#                 speechdis/pretrained/english.pt
#
# Data dirs go to <exp>/../data, models and reports to --exp. Nothing derived from the corpora is committed.
set -euo pipefail

recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$recipe/../.." && pwd)"

stage=0
stop_stage=9
nj=2
corpora="$root/../shared/data"
exp="$recipe/exp"
data_root=""                 # default: $(dirname exp)/data
feat_config="$recipe/conf/mfcc.yaml"
train_config="$recipe/conf/train.yaml"
final_sets="loss.ctc_weight=1.0 loss.word_ce_weight=1.0 data.speaker_context=100 model.phonetic_dim=64 model.hidden=192 data.word_pairs=0.5 data.speakers_per_batch=16"  # README: dev table
backend_lda_dim=48           # speaker back end after stage 6 ("" = none): LDA dimensions (dev: 32/48/64)
seeds="0 1 2"
steps=""                     # override train.steps of every training run
train_jobs=2                 # models trained at once (one thread each)
ablations=false
export_pretrained=false
device=auto
dtw_max_pairs=3000000        # DTW pairs per task (seeded sample above it): reproducible rows on any machine
dtw_budget=1800              # seconds: a safety cap only (a cut is reported; its pairs depend on machine load)
valid=""                     # validation dir of training (default: the combined dev dir)
augment=""                   # waveform copies of the training set (prepare augment --kinds): "" = none
_po_vars="stage stop_stage nj corpora exp data_root feat_config train_config final_sets seeds steps train_jobs
  ablations export_pretrained device dtw_max_pairs dtw_budget valid augment backend_lda_dim"
# shellcheck source=utils/common.sh
. "$recipe/utils/common.sh" "$@"

sc="$corpora/speech_commands"
fsdd="$corpora/fsdd"
so762="$corpora/speechocean762"
d="$data_root"
heldout=("$d/sc/test" "$d/so762/test" "$d/fsdd/heldout")
[ -n "$valid" ] || valid="$d/dev"
train_dir="$d/train"
[ -z "$augment" ] || train_dir="$d/train_aug"

train_model() {  # train_model OUT CONFIG [KEY=VALUE...] (utils/common.sh: train_speech_model)
  train_speech_model "$train_dir" "$valid" "$@"
}
t_start=$(date +%s)

if run_stage 0; then
  banner 0 "prepare"
  for c in "$sc" "$fsdd/recordings" "$so762/WAVE"; do
    [ -d "$c" ] || { echo "$0: $c: no such directory (set --corpora)" >&2; exit 1; }
  done
  [ -d "$d/sc/train" ] || speechdis prepare speechcommands "$sc" "$d/sc"
  [ -d "$d/fsdd_all" ] || speechdis prepare fsdd "$fsdd" "$d/fsdd_all"
  [ -d "$d/fsdd/train" ] || speechdis prepare split-speakers "$d/fsdd_all" "$d/fsdd/train" "$d/fsdd/heldout" \
    --test-fraction 0.5 --seed 0
  [ -d "$d/so762/train" ] || speechdis prepare speechocean762 "$so762" "$d/so762"
fi

if run_stage 1; then
  banner 1 "align speechocean762"
  for split in train dev test; do
    speechdis align "$d/so762/$split" --nj "$nj" --lexicon "$so762/resource/lexicon.txt" --no-progress
  done
fi

if run_stage 2; then
  banner 2 "combine"
  # The one-word corpora have no phone CTM, so combine refuses the aligned dirs as they are: combine copies
  # of them without phones.ctm (the CTC objective takes CMUdict phones of the word labels, not the CTM).
  for split in train dev; do
    rm -rf "$d/so762_words/$split" && mkdir -p "$d/so762_words/$split"
    find "$d/so762/$split" -maxdepth 1 -type f ! -name phones.ctm -exec cp {} "$d/so762_words/$split/" \;
  done
  speechdis prepare combine "$d/train" "$d/sc/train" "$d/fsdd/train" "$d/so762_words/train" --names sc,fsdd,so762
  speechdis prepare combine "$d/dev" "$d/sc/dev" "$d/so762_words/dev" --names sc,so762
  for dir in "$d/train" "$d/dev" "${heldout[@]}"; do speechdis prepare validate "$dir"; done
  if [ -n "$augment" ]; then
    # Resumable: a rerun keeps the copies already written (and their features when nothing changed).
    speechdis prepare augment "$d/train" "$train_dir" --kinds "$augment" --noise "$sc/_silence_" --nj "$nj" \
      --no-progress
  fi
fi

if run_stage 3; then
  banner 3 "features"
  for dir in "$train_dir" "$d/dev" "$d/sc/dev" "$d/so762/dev" "${heldout[@]}"; do
    name="$(basename "$(dirname "$dir")")_$(basename "$dir")"
    $train_cmd "$log_dir/features_$name.log" speechdis features "$dir" --nj "$nj" --config "$feat_config" --no-progress
  done
fi

if [ "$ablations" = true ] && run_stage 4; then
  banner 4 "dev ablations (seed 0)"
  jobs_list=()
  while read -r name sets; do
    case "$name" in ''|\#*) continue ;; esac
    jobs_list+=("$exp/ablations/$name|$train_config|train.seed=0 $sets")
  done < "$recipe/conf/ablations.txt"
  run_train_jobs "${jobs_list[@]}"
fi

if [ "$ablations" = true ] && run_stage 5; then
  banner 5 "dev table"
  specs=()
  while read -r name _; do
    case "$name" in ''|\#*) continue ;; esac
    specs+=(--model "$name=$exp/ablations/$name")
  done < "$recipe/conf/ablations.txt"
  # Each corpus's dev speakers on their own (the continuous-speech so762 words are what selection weighs
  # most), and speaker EER on whole so762 dev sentences (what users embed).
  for corpus in so762 sc; do
    evaluate "$d/$corpus/dev" "$exp/ablations/eval_${corpus}_dev" "${specs[@]}" --no-outside-systems
    python "$root/recipes/speechcommands/local/seed_table.py" "$exp/ablations/eval_${corpus}_dev" \
      --title "$corpus dev speakers (model selection)"
  done
  speechdis prepare chunks "$d/so762/dev" "$d/so762/dev_whole" --whole
  $train_cmd "$log_dir/evaluate_so762_dev_whole.log" speechdis evaluate speaker --data "$d/so762/dev_whole" \
    "${specs[@]}" --out "$exp/ablations/eval_so762_dev_whole" --device "$device" >/dev/null
  python "$root/recipes/speechcommands/local/seed_table.py" "$exp/ablations/eval_so762_dev_whole" \
    --title "so762 dev speakers, speaker EER on whole sentences (model selection)"
fi

final_specs=()
for seed in $seeds; do final_specs+=(--model "english_seed$seed=$exp/english_seed$seed"); done
if [ -n "$backend_lda_dim" ]; then
  for seed in $seeds; do final_specs+=(--model "english_lda_seed$seed=$exp/english_seed$seed/model_backend.pt"); done
fi

if run_stage 6; then
  banner 6 "train the english model, seeds $seeds"
  jobs_list=()
  for seed in $seeds; do jobs_list+=("$exp/english_seed$seed|$train_config|train.seed=$seed $final_sets"); done
  run_train_jobs "${jobs_list[@]}"
  if [ -n "$backend_lda_dim" ]; then
    # Training speakers only: whole sentences and their 3 s chunks, the lengths speaker vectors are used on.
    speechdis prepare chunks "$d/so762/train" "$d/so762/train_whole" --whole
    speechdis prepare chunks "$d/so762/train" "$d/so762/train_chunks3s" --seconds 3
    for seed in $seeds; do
      $train_cmd "$log_dir/backend_english_seed$seed.log" speechdis backend "$exp/english_seed$seed" \
        --data "$d/so762/train_whole" --data "$d/so762/train_chunks3s" --lda-dim "$backend_lda_dim" \
        --out "$exp/english_seed$seed/model_backend.pt"
    done
  fi
fi

if run_stage 7; then
  banner 7 "evaluate on each corpus's held-out speakers"
  for dir in "${heldout[@]}"; do
    evaluate "$dir" "$exp/eval_$(basename "$(dirname "$dir")")" "${final_specs[@]}"
  done
  # Speaker EER on continuous speech: 3 s chunks of the so762 test speakers' sentences and whole sentences.
  outside=()
  check="from speechdis.eval.resemblyzer_system import have_resemblyzer as h; raise SystemExit(not h())"
  python -c "$check" 2>/dev/null && outside=(--system resemblyzer)
  for kind in chunks3s whole; do
    opts=(--seconds 3); [ "$kind" != whole ] || opts=(--whole)
    speechdis prepare chunks "$d/so762/test" "$d/so762/test_$kind" "${opts[@]}"
    $train_cmd "$log_dir/evaluate_so762_$kind.log" speechdis evaluate speaker --data "$d/so762/test_$kind" \
      "${final_specs[@]}" "${outside[@]}" --out "$exp/eval_so762_$kind" --device "$device" >/dev/null
  done
fi

if run_stage 8; then
  banner 8 "report"
  for corpus in sc so762 fsdd; do
    python "$root/recipes/speechcommands/local/seed_table.py" "$exp/eval_$corpus" \
      --title "$corpus held-out speakers"
  done
  for kind in chunks3s whole; do
    what="3 s chunks of sentences"; [ "$kind" != whole ] || what="whole sentences"
    python "$root/recipes/speechcommands/local/seed_table.py" "$exp/eval_so762_$kind" \
      --title "so762 held-out speakers, speaker EER on $what"
  done
fi

if [ "$export_pretrained" = true ] && run_stage 9; then
  banner 9 "package the seed-0 model"
  src="$exp/english_seed0/model.pt"
  [ -z "$backend_lda_dim" ] || src="$exp/english_seed0/model_backend.pt"
  cp "$src" "$root/speechdis/pretrained/english.pt"
  ls -l "$root/speechdis/pretrained/english.pt"
fi

echo "=== done: stages $stage-$stop_stage in $(( $(date +%s) - t_start ))s"
