"""The paper's recipe on Qwen2.5-Math-1.5B (same budgets as the 7B config, smaller mesh needs).

  python -m launch.self_evolve --config=configs/qwen25_math_1_5b.py \
      --config.bootstrap.policy=/ckpt/Qwen2.5-Math-1.5B --config.problems.train=/data/train.jsonl
"""

from configs import qwen25_math_7b


def get_config(arg: str | None = None):
  c = qwen25_math_7b.get_config(arg)
  c.name = "qwen25_math_1_5b"
  c.run_dir = "runs/qwen25_math_1_5b"
  c.mesh = "data:2,fsdp:4"  # 1.5B fits in 4-way FSDP; two replicas per 8-GPU host.
  c.sft.grad_accum = 2
  c.ppm.grad_accum = 8
  return c
