#!/usr/bin/env bash
# Usage: sge.sh [--mem 4G] [--time 24:00:00] [--gpu N] [--num-threads N] [--max-jobs-run M] [--config conf/queue.conf]
#               [JOB=1:N] LOGFILE COMMAND [ARGS...]
# A Grid Engine job array (qsub -t 1:N -sync y), Kaldi's queue.pl convention; see utils/grid.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/grid.sh" --backend sge "$@"
