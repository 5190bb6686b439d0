#!/usr/bin/env bash
# Issue 24's GPU runs as one bounded job: InfoGAN's MNIST preset (the paper's networks) and its ablations,
# trained at once on one GPU (`speechdis image train infogan --device cuda`), for as many steps as fit BUDGET.
#
#   MNIST=DIR BUDGET=420 bash bench/gpu_infogan.sh      # on the GPU machine (DIR: the four idx .gz files)
#   DEVICE=cpu QUICK=1 MNIST=../shared/data/mnist bash bench/gpu_infogan.sh   # smoke test of the script, here
#
# 1. calibration: every run's setting for CALIB steps (then stopped, not evaluated), all at once; the slowest run's time per
#    step (from its log) sets the real runs' length: STEPS = BUDGET / that, rounded down to 1000 (≥ 1000,
#    ≤ MAX_STEPS), less the evaluation's time;
# 2. the runs (RUNS: "name seed --set ..." lines), all at once, curve every 1000 steps;
# 3. $OUT/infogan_gpu.tsv: name, seed, steps, unsupervised error, label-free selection metrics, train time;
#    $OUT/infogan_logs.tgz: each run's log and metrics.json (models stay in $WORK).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
device="${DEVICE:-cuda}"
mnist="${MNIST:-../shared/data/mnist}"
budget="${BUDGET:-420}"        # seconds for the real runs' training and evaluation
eval_s="${EVAL_S:-60}"         # seconds kept for the evaluation at the end of each run (on the CPU)
max_steps="${MAX_STEPS:-30000}"
calib="${CALIB:-200}"
out="${OUT:-/tmp/gpu_infogan}"
work="${WORK:-/tmp/gpu_infogan_work}"
py="${PYTHON:-python3}"
runs="${RUNS:-"preset 0
preset 1
preset 2
preset 3
preset 4
preset 5
balance 0 --set cat_balance=1.0
balance 1 --set cat_balance=1.0
balance 2 --set cat_balance=1.0"}"
if [ "${QUICK:-0}" = 1 ]; then
  runs="preset 0 --set width=8 --set hidden=16 --set g_hidden=0 --set q_hidden=0
lrq 0 --set lr_q=0.001 --set width=8 --set hidden=16 --set g_hidden=0 --set q_hidden=0"
  calib=100 max_steps=1000 budget=200 eval_s=0
fi
mkdir -p "$out" "$work"
[ "$device" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

launch() {  # launch DIR STEPS CURVE [OPTION...]: every run of $runs in DIR/<name>_s<seed>, at once
  local dir="$1" steps="$2" curve="$3" name seed sets
  shift 3
  mkdir -p "$dir"
  while read -r name seed sets; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2086  # $sets: the run's --set options, split on purpose
    "$py" -m speechdis image train infogan --dataset mnist --data-dir "$mnist" --device "$device" \
      --out "$dir/${name}_s$seed" --seed "$seed" --steps "$steps" --set "curve_every=$curve" $sets \
      --checkpoint-every 1000 "$@" < /dev/null > "$dir/${name}_s$seed.log" 2>&1 &
  done <<< "$runs"
  wait
}

t0=$(date +%s)
rm -rf "$work/calib" "$work/runs"
launch "$work/calib" "$max_steps" 0 --stop-after "$calib"  # no evaluation: stopped with a checkpoint
# "infogan step N/M (T s)": the slowest run's seconds per step, all running at once.
per_step=$(grep -ho "infogan step $calib/$max_steps ([0-9.]*s)" "$work"/calib/*.log | grep -o "([0-9.]*" | tr -d '(' |
  sort -g | tail -n 1)
[ -n "$per_step" ] || { echo "calibration failed:"; tail -n 20 "$work"/calib/*.log; exit 1; }
steps=$("$py" -c "import sys; b, e, t, c, m = map(float, sys.argv[1:]); s = int((b - e) / (t / c) // 1000 * 1000)
print(int(min(max(s, 1000), m)))" "$budget" "$eval_s" "$per_step" "$calib" "$max_steps")
echo "calibration: $calib steps in ${per_step}s (slowest of all runs at once; $(( $(date +%s) - t0 ))s in all)" \
  "-> $steps steps per run"
t1=$(date +%s)
launch "$work/runs" "$steps" $(( steps >= 2000 ? 1000 : steps ))
echo "runs done in $(( $(date +%s) - t1 ))s"
"$py" - "$work/runs" "$out/infogan_gpu.tsv" <<'EOF'
import json, sys
from pathlib import Path
rows = ["name\tseed\tsteps\tunsupervised_error\tq_train_code_mi\tq_train_code_balance\ttrain_seconds\tcurve"]
for d in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    f = d / "metrics.json"
    if not f.is_file():
        rows.append(f"{d.name}\t-\t-\tFAILED (see {d.name}.log)")
        continue
    m = json.loads(f.read_text())
    curve = {int(k.rsplit("step", 1)[1]): v for k, v in m["final_losses"].items() if k.startswith("curve_")}
    name, seed = d.name.rsplit("_s", 1)
    rows.append(f"{name}\t{seed}\t{m['steps']}\t{m['unsupervised_error']:.4f}\t{m['q_train_code_mi']:.4f}\t"
                f"{m['q_train_code_balance']:.4f}\t{m['train_seconds']:.0f}\t"
                + " ".join(f"{k}:{v:.3f}" for k, v in sorted(curve.items())))
Path(sys.argv[2]).write_text("\n".join(rows) + "\n")
print("\n".join(rows))
EOF
tar -czf "$out/infogan_logs.tgz" -C "$work/runs" $(cd "$work/runs" && ls -d ./*.log ./*/metrics.json ./*/samples_by_code.png 2>/dev/null)
