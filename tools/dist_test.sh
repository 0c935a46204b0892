#!/usr/bin/env bash
# Launch tools/test.py on $GPUS processes per node with torchrun.
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [extra args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as for mmpretrain.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/test.py \
    $CONFIG $CHECKPOINT \
    --launcher pytorch "$@"
