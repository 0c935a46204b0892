#!/usr/bin/env bash
# Launch tools/train.py on $GPUS processes per node with torchrun.
# Usage: bash tools/dist_train.sh CONFIG GPUS [extra args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as for mmpretrain.
#
# SIGTERM or SIGUSR1 to this script (or to the training processes) stops
# the run after the iteration in progress, with a checkpoint: the script
# passes it on to torchrun as SIGTERM, which passes it on to its workers
# (they run in sessions of their own) and kills them if they have not
# exited 30 s later. Each worker exits with status 75; add --auto-resume
# (or --resume) to the same command to continue
# (docs/failure_and_recovery.md, "Preemptible partitions").
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

# torchrun itself would die of a SIGUSR1 sent to every process of a job
# (slurm): it inherits it ignored, and this script handles it
trap '' USR1

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/train.py \
    $CONFIG \
    --launcher pytorch "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM USR1
trap 'kill -INT $pid 2>/dev/null' INT  # Ctrl-C, as before
wait $pid
status=$?
while [ $status -gt 128 ] && kill -0 $pid 2>/dev/null; do
    wait $pid  # woken by a signal: wait for torchrun to finish
    status=$?
done
exit $status
