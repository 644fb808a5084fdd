#!/bin/bash
# Two processes on one machine acting as two hosts (CPU, gloo collectives): a rehearsal of a
# multi-host run. Each process gets NUM_DEVICES fake CPU devices.
#
#   launch/multihost/local_cpu.sh --config=configs/world.py:smoke --config.run_dir=runs/mh
set -euo pipefail
NUM_PROCESSES=${NUM_PROCESSES:-2}
NUM_DEVICES=${NUM_DEVICES:-2}
PORT=${PORT:-12356}
pids=()
for ((i = 0; i < NUM_PROCESSES; i++)); do
  XLA_FLAGS="--xla_force_host_platform_device_count=${NUM_DEVICES}" JAX_PLATFORMS=cpu \
    python -m launch.self_evolve --config.train_devices=0 \
      --coordinator_address="127.0.0.1:${PORT}" --num_processes="${NUM_PROCESSES}" \
      --process_id="${i}" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
