#!/usr/bin/env bash
# Issue 21's GPU training as one bounded job: recipes/english/conf/train.yaml + each run's --set options, all runs
# at once on the GPU, from data dirs packed by bench/pack_data_dirs.py (Kaldi-compressed features: the device
# tool carries 64 MiB).
#
#   DATA=.devdata/english LIMIT=420 bash bench/gpu_english.sh            # on the GPU machine
#   DEVICE=cpu DATA=DIR LIMIT=60 RUNS="smoke 0 train.steps=4" bash bench/gpu_english.sh   # smoke test, here
#
# DATA holds train/ and valid/. A run still going at LIMIT seconds is stopped; its latest checkpoint (a model
# file too) is what comes back. $OUT gets en_<name>.pt per run and english_logs.tgz (logs, step times).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
device="${DEVICE:-cuda}"
data="${DATA:-.devdata/english}"
limit="${LIMIT:-420}"
out="${OUT:-/tmp/gpu_english}"
work="${WORK:-/tmp/gpu_english_work}"
py="${PYTHON:-python3}"
config="recipes/english/conf/train.yaml"
wide="loss.ctc_weight=1.0 loss.word_ce_weight=1.0 data.speaker_context=100 model.phonetic_dim=64 model.hidden=192"
runs="${RUNS:-"wp05_s0 0 $wide data.word_pairs=0.5
wp05_s1 1 $wide data.word_pairs=0.5
wp05_s2 2 $wide data.word_pairs=0.5
wp05_12k 0 $wide data.word_pairs=0.5 train.steps=12000
wp05_big 0 $wide data.word_pairs=0.5 model.hidden=320 model.phonetic_dim=128 model.decoder_hidden=256 train.steps=6000"}"
mkdir -p "$out" "$work"
"$py" bench/pack_data_dirs.py --relocate "$data"
t0=$(date +%s)
while read -r name seed sets; do
  [ -n "$name" ] || continue
  args=(--config "$config" --data "$data/train" --valid "$data/valid" --out "$work/$name" --set "train.seed=$seed"
        --set "train.device=$device")
  for kv in $sets; do args+=(--set "$kv"); done
  timeout -s INT "$limit" "$py" -m speechdis train "${args[@]}" < /dev/null > "$work/$name.log" 2>&1 &
done <<< "$runs"
wait
echo "english runs done in $(( $(date +%s) - t0 ))s"
while read -r name _; do
  [ -n "$name" ] || continue
  if [ -f "$work/$name/model.pt" ]; then
    cp "$work/$name/model.pt" "$out/en_$name.pt"
  elif [ -f "$work/$name/checkpoints/latest.pt" ]; then
    # The optimiser and RNG states would triple the file (the tool returns ≤ 16 MB a file): the model only.
    "$py" -c "import sys, torch; s = torch.load(sys.argv[1], weights_only=False)
for k in ('generator_opt', 'critic_opt', 'rng'): s.pop(k, None)
torch.save(s, sys.argv[2])" "$work/$name/checkpoints/latest.pt" "$out/en_$name.pt"
    echo "$name: stopped at the limit; its latest checkpoint (model only) returned"
  else
    echo "$name: nothing trained (see $name.log)"
  fi
  grep -E "step [0-9]+/[0-9]+ " "$work/$name.log" | tail -n 1
done <<< "$runs"
tar -czf "$out/english_logs.tgz" -C "$work" $(cd "$work" && ls ./*.log ./*/train_log.jsonl 2>/dev/null)
