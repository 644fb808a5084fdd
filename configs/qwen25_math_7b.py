"""The paper's recipe on Qwen2.5-Math-7B (DESIGN §1.4), for a GPU/TPU pod.

  python -m launch.self_evolve --config=configs/qwen25_math_7b.py \
      --config.bootstrap.policy=/ckpt/Qwen2.5-Math-7B --config.problems.train=/data/train.jsonl \
      --config.problems.heldout=../shared/data/benchmarks/math500.jsonl

Budgets are the official ones: 8 rollouts in the bootstrap round, 16 afterwards, depth 16, 2048
tokens per step, 64 then 128 extra rollouts for problems still unsolved in round 4; SFT and PPM
with lr 7e-6, 2 epochs, global batch 128 examples / 512 pairs, max length 2048, bf16, FSDP.
"""

from configs import common


def get_config(arg: str | None = None):
  c = common.base_config("qwen25_math_7b")
  c.model_dtype = "bfloat16"
  c.mesh = "fsdp:8"  # One host of 8 GPUs; on N hosts use 'data:N,fsdp:8'.
  c.search.batch_size = 256
  c.search.num_candidates = 16
  c.sft.grad_accum = 4
  c.sft.remat = True
  c.ppm.grad_accum = 16
  c.ppm.remat = True
  c.eval.batch_size = 64
  c.eval.mcts_runs = 64  # "64 trajectories" of the paper's headline numbers.
  c.eval.mcts_rollouts = 16
  if arg:
    raise ValueError(f"configs/qwen25_math_7b.py takes no variant, got {arg!r}")
  return c
