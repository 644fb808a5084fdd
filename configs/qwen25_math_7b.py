"""The paper's recipe on Qwen2.5-Math-7B (DESIGN §1.4), for a GPU/TPU pod.

  python -m launch.self_evolve --config=configs/qwen25_math_7b.py \
      --config.bootstrap.policy=/ckpt/Qwen2.5-Math-7B --config.problems.train=/data/train.jsonl \
      --config.problems.heldout=../shared/data/benchmarks/math500.jsonl

Round 1 searches with the base policy and the official 2-shot prompt; to bootstrap from a
stronger model as the paper (DeepSeek-Coder-V2-Instruct, whose architecture rstar-jax does not
implement), add `--config.bootstrap.search_policy=/ckpt/<a Qwen2, Llama or Phi-3 causal LM>`:
it searches round 1 with its own tokenizer, and SFT still starts from Qwen2.5-Math-7B.

The recipe is configs/common.py's (the paper's, and the official code's where the paper is
silent): 8 rollouts in the bootstrap round, 16 afterwards, 12 candidates per expansion at
temperature 1, depth 16, 2048 tokens per step, fresh trees of 64 then 128 rollouts for problems
still unsolved in round 4; SFT with lr 7e-6, linear decay, weight decay 0.1, 2 epochs, 128
examples per step; PPM with lr 7e-6, 2 epochs, 512 pairs per step, head dropout 0.1; max length
2048, bf16, FSDP; evaluation by 64 MCTS+PPM runs (32 candidates, 12 rollouts) and a majority
over the top 4. This file sets what the hardware decides.
"""

from configs import common


def get_config(arg: str | None = None):
  c = common.base_config("qwen25_math_7b")
  c.model_dtype = "bfloat16"
  c.mesh = "fsdp:8"  # One host of 8 GPUs; on N hosts use 'data:N,fsdp:8'.
  c.search.batch_size = 256
  c.sft.grad_accum = 4
  c.sft.remat = True
  c.ppm.grad_accum = 16
  c.ppm.remat = True  # gradient_checkpointing (README.md:254).
  c.eval.batch_size = 64
  if arg:
    raise ValueError(f"configs/qwen25_math_7b.py takes no variant, got {arg!r}")
  return c
