#!/usr/bin/env bash
# Real-speech check: evaluate models trained by the recipe on the Free Spoken Digit Dataset (human speech,
# 4 speakers, 8 kHz). Not part of the project's data: the data dir and reports stay under ignored dirs.
#
#   bash recipes/fsdd/run.sh --exp recipes/mini/exp      # after bash recipes/mini/run.sh
#
# Steps: speechdis prepare fsdd (one utterance + one energy-trimmed word segment per recording) →
# speechdis features with the models' own feature config (feats.yaml; resampled to 16 kHz) →
# speechdis evaluate all (DTW, baseline, disentangled) → the final table.
set -euo pipefail

recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fsdd="$(cd "$recipe/../.." && pwd)/../shared/data/fsdd"
exp="$recipe/exp"
data=""                   # default: $(dirname exp)/data/fsdd
nj=2
dtw_budget=300
max_queries_per_word=20   # 10 words x 20 = 200 queries against all 2000 segments
trim=true
_po_vars="fsdd exp data nj dtw_budget max_queries_per_word trim"
# shellcheck source=utils/parse_options.sh
. "$recipe/utils/parse_options.sh"
# shellcheck source=path.sh
. "$recipe/path.sh"

[ -n "$data" ] || data="$(dirname "$exp")/data/fsdd"
for m in baseline disentangled; do
  if [ ! -f "$exp/$m/feats.yaml" ]; then
    echo "$0: $exp/$m/feats.yaml missing: train the models first (e.g. bash recipes/mini/run.sh)" >&2
    exit 1
  fi
done
trim_opt=()
[ "$trim" = true ] || trim_opt=(--no-trim)

speechdis prepare fsdd "$fsdd" "$data" ${trim_opt[@]+"${trim_opt[@]}"}
speechdis features "$data" --nj "$nj" --config "$exp/disentangled/feats.yaml" --no-progress
speechdis evaluate all --data "$data" --model "baseline=$exp/baseline" --model "disentangled=$exp/disentangled" \
  --out "$exp/eval_fsdd" --dtw-budget "$dtw_budget" --max-queries-per-word "$max_queries_per_word"
