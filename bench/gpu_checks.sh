#!/usr/bin/env bash
# Issue 11's GPU checks as one bounded run, for a session that has a GPU (the `device` tool's machine):
#   1. bench/train_speed.py on the reference LibriSpeech config, batch 64 / 256 / 1024, bf16 and fp16, critic
#      batches fresh and shared;
#   2. `speechdis train` of the reference config for $STEPS steps with AMP on the mini corpus;
#   3. CUDA extraction (bench/extract_speed.py and `speechdis extract`) and `speechdis evaluate std` of that model.
# Each part's log goes to $OUT (the device tool's folder, which returns at most 8 files; default
# /tmp/gpu_checks) with the evaluation table; models and vectors stay in $WORK (default /tmp/gpu_work).
# Needs the mini data dirs (recipes/mini/data, from `bash recipes/mini/run.sh --stop-stage 1`: 19 MB, carried
# along; their scp files hold absolute paths, rewritten here to this checkout) and, on a machine without them,
# librosa/soundfile/kaldiio wheels (see the device tool's README: carry .whl, install into /tmp/site first).
#
#   DEVICE=cuda STEPS=300 bash bench/gpu_checks.sh            # on the GPU machine
#   DEVICE=cpu STEPS=2 QUICK=1 bash bench/gpu_checks.sh       # smoke test of the script itself, here
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
device="${DEVICE:-cuda}"
steps="${STEPS:-300}"
amp="${AMP:-bf16}"
out="${OUT:-/tmp/gpu_checks}"
work="${WORK:-/tmp/gpu_work}"
data="${DATA:-recipes/mini/data}"  # or the copy bench/pack_data_dirs.py packed (relocated here)
ref="recipes/librispeech/conf/train_disentangled.yaml"
py="${PYTHON:-python3}"
mkdir -p "$out" "$work"
if [ "${QUICK:-0}" = 1 ]; then
  speed_opts=(--batch-sizes 16 --steps 1 --rounds 1)
  speed_amps="none"
  extract_utts=2
else
  speed_opts=(--batch-sizes 64,256,1024 --steps 20 --rounds 3)
  speed_amps="bf16 fp16"
  extract_utts=200
fi
for d in train-clean-mini test-clean-mini; do
  if [ ! -f "$data/$d/feats.scp" ]; then
    echo "$0: $data/$d/feats.scp missing: run 'bash recipes/mini/run.sh --stop-stage 1' and carry $data" >&2
    exit 1
  fi
  # The scp files name arks by absolute path in the checkout that made them: point them at this one.
  for f in "$data/$d/feats.scp" "$data/$d/cmvn.scp"; do
    [ -f "$f" ] && sed -i -E "s#^([^ ]+) .*/(recipes/mini/data/)#\1 $PWD/\2#" "$f"
  done
done
[ "$data" = recipes/mini/data ] || "$py" bench/pack_data_dirs.py --relocate "$data"
part() {  # part NAME COMMAND...: run, log to $out/NAME.log, print the wall time
  local name="$1" t0
  shift
  t0=$(date +%s)
  echo "=== $name: $*"
  "$@" > "$out/$name.log" 2>&1 || { echo "$name FAILED (rc $?), see $name.log"; tail -n 20 "$out/$name.log"; return 1; }
  echo "    done in $(( $(date +%s) - t0 ))s"
}
[ "$device" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
for a in $speed_amps; do
  part "train_speed_$a" "$py" bench/train_speed.py --device "$device" --config "$ref" --adv-modes wgan \
    --critic-batches fresh,shared --amp "$a" "${speed_opts[@]}"
done
part train "$py" -m speechdis train --config "$ref" --data "$data/train-clean-mini" --out "$work/exp_ref" \
  --set "train.steps=$steps" --set "train.amp=$amp" --set "train.device=$device" --set train.valid_every=100 \
  --set train.ckpt_every=100 --set train.log_every=50
part extract_speed "$py" bench/extract_speed.py --device "$device" --config "$ref" --utts "$extract_utts"
part extract "$py" -m speechdis extract --model "$work/exp_ref" "$data/test-clean-mini" --device "$device" \
  --out "$work/emb_test" --no-progress
part evaluate "$py" -m speechdis evaluate std --data "$data/test-clean-mini" --model "ref=$work/exp_ref" \
  --device "$device" --out "$work/eval" --no-mfcc-stats
cp "$work/eval/std.md" "$out/"
echo "=== all parts done; logs and std.md in $out, models and vectors in $work"
