#!/bin/bash
# Self-evolution on a GPU cluster with SLURM: one process per host, 8 GPUs per host.
#
#   sbatch --nodes=4 launch/multihost/slurm_gpu.sh configs/qwen25_math_7b.py \
#       --config.bootstrap.policy=/ckpt/Qwen2.5-Math-7B \
#       --config.problems.train=/data/train.jsonl \
#       --config.problems.heldout=/data/benchmarks/math500.jsonl \
#       --config.run_dir=/shared/runs/qwen7b
#
# The run directory must be on a filesystem every host sees (NFS, Lustre, GCS fuse): each host
# writes its own search shards there, and the leader (process 0) writes stage markers and
# reports. Re-submitting the same command resumes the run.
#SBATCH --job-name=rstar-jax
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=72:00:00
set -euo pipefail

CONFIG=${1:?usage: slurm_gpu.sh CONFIG [--config.overrides ...]}
shift

COORDINATOR_HOST=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
COORDINATOR_PORT=${COORDINATOR_PORT:-12355}
# A training mesh over all hosts: data-parallel across hosts, FSDP within one.
MESH="data:${SLURM_NNODES},fsdp:8"

srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c "
  exec python -m launch.self_evolve \
    --config='${CONFIG}' --config.mesh='${MESH}' \
    --coordinator_address='${COORDINATOR_HOST}:${COORDINATOR_PORT}' \
    --num_processes=\${SLURM_NTASKS} --process_id=\${SLURM_PROCID} $*
"
