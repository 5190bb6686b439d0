# How run.sh launches its jobs, Kaldi-style: "$train_cmd LOGFILE COMMAND ARGS...".
# local/run_local.sh runs the command here, showing its output and keeping a copy in LOGFILE (like
# Kaldi's run.pl). On a grid, point these at a queue wrapper with the same calling convention.
_recipe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export train_cmd="$_recipe/local/run_local.sh"
export decode_cmd="$_recipe/local/run_local.sh"
unset _recipe
