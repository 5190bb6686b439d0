#!/usr/bin/env bash
# The main job: the LibriSpeech recipe (recipes/librispeech/run.sh) on the embedded synthetic corpus
# (data/synthetic_librispeech), with the mini training configs. Runs in minutes on a CPU and prints the final
# table; data dirs go to recipes/mini/data, models and reports to recipes/mini/exp.
# Extra options go through to the recipe, e.g. `bash recipes/mini/run.sh --stage 5`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec bash recipes/librispeech/run.sh \
  --corpus data/synthetic_librispeech \
  --train-subset train-clean-mini \
  --test-subset test-clean-mini \
  --exp recipes/mini/exp \
  --train-config-baseline recipes/mini/conf/train_baseline.yaml \
  --train-config-disentangled recipes/mini/conf/train_disentangled.yaml \
  --nj 2 \
  --dtw-budget 120 \
  "$@"
