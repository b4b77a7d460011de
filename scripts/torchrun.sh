#!/usr/bin/env bash
# Multi-node pretraining on bare machines: run the same command on every node, changing NODE_RANK.
#   NNODES=4 NODE_RANK=0 MASTER_ADDR=10.0.0.1 scripts/torchrun.sh [more hjepa fit arguments]
# Environment (defaults): NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1; node 0's address),
# MASTER_PORT (29500), NPROC_PER_NODE (the node's GPUs), CONFIG (configs/base_gpu.yaml),
# PYTHON (.venv/bin/python; make it once with scripts/setup_env.sh). torchrun starts NPROC_PER_NODE
# ranks here; trainer.num_nodes/devices are set to match (checked against torchrun's environment).
# Every start passes --ckpt_path last: after a crash, re-running the command resumes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
NPROC_PER_NODE="${NPROC_PER_NODE:-$(nvidia-smi --list-gpus 2>/dev/null | wc -l)}"
CONFIG="${CONFIG:-configs/base_gpu.yaml}"
PYTHON="${PYTHON:-.venv/bin/python}"
if [ "$NPROC_PER_NODE" -lt 1 ]; then
  echo "error: no GPU found on $(hostname); set NPROC_PER_NODE (and --trainer.accelerator cpu for CPU ranks)" >&2
  exit 2
fi
exec "$PYTHON" -m torch.distributed.run \
  --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$NPROC_PER_NODE" \
  --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" \
  -m hjepa.cli fit --config "$CONFIG" \
  --trainer.num_nodes "$NNODES" --trainer.devices "$NPROC_PER_NODE" --ckpt_path last "$@"
