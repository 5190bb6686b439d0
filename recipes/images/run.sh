#!/usr/bin/env bash
# Trains every image model briefly on CPU with the offline data (digits, shapes, domain-shifted digits),
# writing exp/<model>/{model.pt,metrics.json,*.png}, then a combined exp/metrics.md table, printed at the end.
#
#   bash recipes/images/run.sh [--steps N] [--seed S] [--nj N] [--models "infogan dann ..."] [--exp DIR]
#
# --steps overrides every model's own default step count (e.g. --steps 20 for a smoke run);
# --nj runs that many models at once, one torch thread each (small models scale better that way).
# The edit model reuses the trained VAE-GAN (exp/vaegan) when it is part of the run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

steps=""
seed=0
nj=2
models="infogan vaegan bigan triplegan dann crossdomain twostage edit"
exp="$here/exp"

_po_vars="steps seed nj models exp"
# shellcheck source=../librispeech/local/parse_options.sh
. "$root/recipes/librispeech/local/parse_options.sh"
if [ $# -gt 0 ]; then
  echo "$0: unexpected argument(s): $*" >&2
  exit 2
fi
case "$nj" in ''|*[!0-9]*|0) echo "$0: --nj must be a positive integer" >&2; exit 2 ;; esac

# shellcheck disable=SC1091
. "$root/tools/env.sh"
mkdir -p "$exp"
start=$(date +%s)

train() {  # train <model> [extra args]: logs to exp/<model>/train.log, exit status to exp/<model>/rc
  local name="$1"; shift
  mkdir -p "$exp/$name"
  local rc=0
  python -m speechdis image --threads 1 train "$name" --out "$exp/$name" --seed "$seed" \
    ${steps:+--steps "$steps"} "$@" > "$exp/$name/train.log" 2>&1 || rc=$?
  echo "$rc" > "$exp/$name/rc"
  echo "[images] $name done (exit $rc, $(( $(date +%s) - start ))s elapsed)"
}

run_edit=0
for m in $models; do
  if [ "$m" = edit ]; then run_edit=1; continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$nj" ]; do wait -n || true; done
  echo "[images] training $m"
  train "$m" &
done
wait || true
if [ "$run_edit" = 1 ]; then
  echo "[images] training edit"
  if [ -f "$exp/vaegan/model.pt" ] && [ "$(cat "$exp/vaegan/rc" 2>/dev/null)" = 0 ]; then
    train edit --init "$exp/vaegan"
  else
    train edit
  fi
fi

failed=""
for m in $models; do
  [ "$(cat "$exp/$m/rc" 2>/dev/null)" = 0 ] || failed="$failed $m"
done
python -m speechdis image table "$exp" --out "$exp/metrics.md" > /dev/null
elapsed=$(( $(date +%s) - start ))
printf '\nRecipe wall time: %ds (--nj %s, %s)\n' "$elapsed" "$nj" "${steps:+--steps $steps}" >> "$exp/metrics.md"
cat "$exp/metrics.md"
if [ -n "$failed" ]; then
  echo "[images] FAILED:$failed (see $exp/<model>/train.log)" >&2
  exit 1
fi
