#!/usr/bin/env bash
# Usage: slurm.sh [--mem 4G] [--time 24:00:00] [--gpu N] [--num-threads N] [--max-jobs-run M] [--config conf/slurm.conf]
#                 [JOB=1:N] LOGFILE COMMAND [ARGS...]
# A Slurm job array (sbatch --array=1-N --wait), Kaldi's slurm.pl convention; see utils/grid.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/grid.sh" --backend slurm "$@"
