#!/usr/bin/env bash
# Trains every image model briefly on CPU with the offline data (digits, shapes, domain-shifted digits),
# writing exp/<model>/{model.pt,metrics.json,*.png}, then a combined exp/metrics.md table, printed at the end.
#
#   bash recipes/images/run.sh [--steps N] [--seed S] [--seeds "0 1 2"] [--nj N] [--models "infogan dann ..."]
#                              [--exp DIR] [--dataset mnist [--mnist-dir DIR]]
#
# --steps overrides every model's own default step count (e.g. --steps 20 for a smoke run);
# --nj runs that many models at once, one torch thread each (small models scale better that way);
# --seeds also trains these seeds (other than --seed) into exp/<model>/seed<k>; the table then shows
#   mean ± std over all seeds.
# --dataset mnist trains infogan, triplegan, bigan, dann and vaegan on real MNIST (the four idx .gz files in
#   --mnist-dir, default ../shared/data/mnist beside the repository) into exp/mnist/ and writes
#   exp/mnist/paper_table.md, the papers' figures beside ours (about 20-30 min per model on one core).
# A model already trained into its directory with the same arguments is kept (--force true retrains).
# The edit model reuses the trained VAE-GAN (exp/vaegan) when it is part of the run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

steps=""
seed=0
seeds=""
nj=2
models=""
exp=""
dataset=digits
mnist_dir="$root/../shared/data/mnist"
force=false

_po_vars="steps seed seeds nj models exp dataset mnist_dir force"
# shellcheck source=../utils/parse_options.sh
. "$root/recipes/utils/parse_options.sh"
if [ $# -gt 0 ]; then
  echo "$0: unexpected argument(s): $*" >&2
  exit 2
fi
case "$nj" in ''|*[!0-9]*|0) echo "$0: --nj must be a positive integer" >&2; exit 2 ;; esac
data_args=()
case "$dataset" in
  digits)
    : "${models:=infogan vaegan bigan triplegan dann crossdomain twostage edit}"
    : "${exp:=$here/exp}" ;;
  mnist)
    : "${models:=infogan triplegan bigan dann vaegan}"
    : "${exp:=$here/exp/mnist}"
    for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
      [ -f "$mnist_dir/$f" ] || { echo "$0: --mnist-dir $mnist_dir lacks $f (the four original MNIST idx files)" >&2; exit 2; }
    done
    data_args=(--dataset mnist --data-dir "$mnist_dir") ;;
  *) echo "$0: --dataset must be digits or mnist, not '$dataset'" >&2; exit 2 ;;
esac

# shellcheck disable=SC1091
. "$root/tools/env.sh"
mkdir -p "$exp"
start=$(date +%s)

train() {  # train <model> <dir> <seed> [extra args]: logs to <dir>/train.log, exit status to <dir>/rc
  local name="$1" dir="$2" s="$3"; shift 3
  local args=(--seed "$s" ${steps:+--steps "$steps"} ${data_args[@]+"${data_args[@]}"} "$@")
  # A run that finished with the same arguments is kept (a rerun resumes an interrupted recipe).
  if [ "$force" != true ] && [ "$(cat "$dir/rc" 2>/dev/null)" = 0 ] && [ -f "$dir/model.pt" ] &&
     [ "$(cat "$dir/args" 2>/dev/null)" = "${args[*]}" ]; then
    echo "[images] $name (seed $s) already trained in $dir (--force true retrains)"
    return 0
  fi
  echo "[images] training $name (seed $s)"
  mkdir -p "$dir"
  rm -f "$dir/rc"
  local rc=0
  python -m speechdis image --threads 1 train "$name" --out "$dir" "${args[@]}" > "$dir/train.log" 2>&1 || rc=$?
  echo "${args[*]}" > "$dir/args"
  echo "$rc" > "$dir/rc"
  echo "[images] $name (seed $s) done (exit $rc, $(( $(date +%s) - start ))s elapsed)"
}

run_edit=0
for m in $models; do
  if [ "$m" = edit ]; then run_edit=1; continue; fi
  for s in "$seed" $seeds; do
    dir="$exp/$m"
    if [ "$s" != "$seed" ]; then dir="$exp/$m/seed$s"; fi
    while [ "$(jobs -rp | wc -l)" -ge "$nj" ]; do wait -n || true; done
    train "$m" "$dir" "$s" &
  done
done
wait || true
if [ "$run_edit" = 1 ]; then
  if [ -f "$exp/vaegan/model.pt" ] && [ "$(cat "$exp/vaegan/rc" 2>/dev/null)" = 0 ]; then
    train edit "$exp/edit" "$seed" --init "$exp/vaegan"
  else
    train edit "$exp/edit" "$seed"
  fi
fi

failed=""
for m in $models; do
  for s in "$seed" $seeds; do
    dir="$exp/$m"
    if [ "$s" != "$seed" ]; then
      [ "$m" = edit ] && continue
      dir="$exp/$m/seed$s"
    fi
    [ "$(cat "$dir/rc" 2>/dev/null)" = 0 ] || failed="$failed $m(seed $s)"
  done
done
python -m speechdis image table "$exp" --out "$exp/metrics.md" > /dev/null
elapsed=$(( $(date +%s) - start ))
printf '\nRecipe wall time: %ds (--nj %s, %s%s)\n' "$elapsed" "$nj" "${steps:+--steps $steps}" \
  "${seeds:+ --seeds $seeds}" >> "$exp/metrics.md"
cat "$exp/metrics.md"
if [ "$dataset" = mnist ]; then
  python -m speechdis image table "$exp" --paper --out "$exp/paper_table.md" > /dev/null
  printf '\nRecipe wall time: %ds (--nj %s)\n' "$elapsed" "$nj" >> "$exp/paper_table.md"
  echo; cat "$exp/paper_table.md"
fi
if [ -n "$failed" ]; then
  echo "[images] FAILED:$failed (see $exp/<model>/train.log)" >&2
  exit 1
fi
