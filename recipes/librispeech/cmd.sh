# How run.sh launches its jobs, Kaldi-style, with one calling convention for every launcher:
#
#   $cmd [--mem 4G] [--time 4:00:00] [--gpu N] [--num-threads N] [--max-jobs-run M] [JOB=1:N] LOGFILE COMMAND ARGS...
#
# JOB=1:N runs N tasks, JOB replaced by 1..N in LOGFILE and ARGS (e.g. `speechdis features DIR --nj N --job JOB`).
# The launcher is chosen by SPEECHDIS_CMD (or by editing the default below):
#   local  utils/run_local.sh: the tasks run here as separate processes, output kept in LOGFILE (Kaldi's run.pl);
#          the resource options are accepted and ignored
#   slurm  utils/slurm.sh: an sbatch job array (--array=1-N), resources mapped through conf/slurm.conf
#   sge    utils/sge.sh: a Grid Engine job array (qsub -t 1:N), resources mapped through conf/queue.conf
# train_cmd: CPU jobs (features, evaluation); decode_cmd: extraction; cuda_cmd: training (add --gpu N).
# Sourced from a recipe that links to this file (recipes/speechcommands): the launchers are found beside the real file.
_recipe="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
case "${SPEECHDIS_CMD:-local}" in
  local) _launcher="$_recipe/utils/run_local.sh" ;;
  slurm) _launcher="$_recipe/utils/slurm.sh" ;;
  sge) _launcher="$_recipe/utils/sge.sh" ;;
  *) echo "cmd.sh: SPEECHDIS_CMD must be local, slurm or sge, not '$SPEECHDIS_CMD'" >&2; return 1 ;;
esac
export train_cmd="$_launcher --mem 4G"
export decode_cmd="$_launcher --mem 4G"
export cuda_cmd="$_launcher --mem 16G"
unset _recipe _launcher
