#!/usr/bin/env bash
# Train on a slurm partition, preemption-safe: submit a batch job that is
# requeued when it is preempted or reaches its time limit, and resumes from
# the work dir's latest checkpoint.
#
# Usage: [GPUS=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [extra args]
#
# The job runs `srun python -u $TRAIN_TOOL CONFIG --work-dir WORK_DIR
# --launcher slurm --auto-resume [extra args]`. Slurm sends SIGUSR1
# $SIGNAL_SECONDS before the time limit (--signal) and SIGTERM when the job
# is preempted; the training tool then finishes its iteration, saves a
# checkpoint and exits with status 75, on which this job requeues itself
# (`scontrol requeue`; sbatch --requeue allows it). The requeued job runs the
# same command, which resumes from WORK_DIR's latest checkpoint
# (docs/failure_and_recovery.md, "Preemptible partitions").
#
# Environment (defaults in brackets):
#   GPUS [8], GPUS_PER_NODE [8], CPUS_PER_TASK [5]  as for mmpretrain
#   SRUN_ARGS [""]         extra srun arguments
#   SBATCH_ARGS [""]       extra sbatch arguments (e.g. --time=24:00:00 --qos=...)
#   TRAIN_TOOL [tools/train.py]  or tools/train_generations.py
#   SIGNAL [USR1]          the warning signal slurm sends before the time limit
#   SIGNAL_SECONDS [180]   how long before; longer than one iteration plus a save
#   REQUEUE [1]            0: neither --requeue nor scontrol requeue
#   REQUEUE_EXIT_CODE [75] the tool's exit status of a stopped run
#                          (PreemptionHook's exit_code)
#   SUBMIT [sbatch]        srun: run in the foreground as mmpretrain's script
#                          does (no requeue; a stopped run exits with 75 and is
#                          continued by running this again)
#   PYTHON [python]        the interpreter
#   DRY_RUN [0]            1: print the batch script and the sbatch command
#                          instead of submitting

set -euo pipefail

if [ $# -lt 4 ]; then
    sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
SBATCH_ARGS=${SBATCH_ARGS:-""}
TRAIN_TOOL=${TRAIN_TOOL:-tools/train.py}
SIGNAL=${SIGNAL:-USR1}
SIGNAL_SECONDS=${SIGNAL_SECONDS:-180}
REQUEUE=${REQUEUE:-1}
REQUEUE_EXIT_CODE=${REQUEUE_EXIT_CODE:-75}
SUBMIT=${SUBMIT:-sbatch}
PYTHON=${PYTHON:-python}
DRY_RUN=${DRY_RUN:-0}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# the training command, each argument quoted for the batch script
TRAIN_CMD="$(printf '%q ' "$PYTHON" -u "$TRAIN_TOOL" "$CONFIG" \
    --work-dir="$WORK_DIR" --launcher=slurm --auto-resume "$@")"
SRUN_OPTS="--ntasks=${GPUS} --ntasks-per-node=${GPUS_PER_NODE} \
--cpus-per-task=${CPUS_PER_TASK} --kill-on-bad-exit=1 ${SRUN_ARGS}"

if [ "$SUBMIT" = srun ]; then
    cd "$ROOT"
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    # shellcheck disable=SC2086
    exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
        --gres=gpu:"$GPUS_PER_NODE" --signal="${SIGNAL}@${SIGNAL_SECONDS}" \
        $SRUN_OPTS "$PYTHON" -u "$TRAIN_TOOL" "$CONFIG" \
        --work-dir="$WORK_DIR" --launcher=slurm --auto-resume "$@"
fi

if [ "$REQUEUE" = 1 ]; then
    REQUEUE_OPT=--requeue
else
    REQUEUE_OPT=--no-requeue
fi

BATCH_SCRIPT="#!/usr/bin/env bash
# written by tools/slurm_train.sh
cd $(printf '%q' "$ROOT")
export PYTHONPATH=$(printf '%q' "$ROOT")\${PYTHONPATH:+:\$PYTHONPATH}
# preemption also signals this shell: note it, wait for the training to
# save and exit, then decide
trap 'echo \"slurm_train.sh: signal received, waiting for the training to stop\"' TERM USR1
echo \"slurm_train.sh: job \$SLURM_JOB_ID, start \${SLURM_RESTART_COUNT:-0}\"
set +e
srun $SRUN_OPTS $TRAIN_CMD &
wait \$!
status=\$?
while [ \$status -gt 128 ] && kill -0 \$! 2>/dev/null; do
    wait \$!  # woken by a trapped signal: wait for srun again
    status=\$?
done
if [ \$status -eq $REQUEUE_EXIT_CODE ] && [ $REQUEUE = 1 ]; then
    echo \"slurm_train.sh: training stopped by a signal and saved; requeueing job \$SLURM_JOB_ID\"
    scontrol requeue \"\$SLURM_JOB_ID\" || echo \"slurm_train.sh: requeue refused; resubmit with the same command\"
fi
exit \$status
"

SBATCH_CMD=(sbatch -p "$PARTITION" --job-name="$JOB_NAME"
    --nodes=$(((GPUS + GPUS_PER_NODE - 1) / GPUS_PER_NODE))
    --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE"
    --gres=gpu:"$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK"
    --signal="${SIGNAL}@${SIGNAL_SECONDS}" "$REQUEUE_OPT" --open-mode=append
    --output="$WORK_DIR/slurm-%j.out")
# shellcheck disable=SC2206
SBATCH_CMD+=($SBATCH_ARGS)

if [ "$DRY_RUN" = 1 ]; then
    printf '%q ' "${SBATCH_CMD[@]}"
    echo
    echo "$BATCH_SCRIPT"
    exit 0
fi
mkdir -p "$WORK_DIR"
echo "$BATCH_SCRIPT" | "${SBATCH_CMD[@]}"
