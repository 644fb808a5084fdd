"""The device suite (`launch/benchmarks/device.py`) on its tiny model, sharded over the session's 8
CPU devices: every part runs, the checkpoint round trip is exact and the HF export loads."""

import re

from absl.testing import flagsaver

from launch.benchmarks import device
from rstar_jax import models

LAST_LINE = re.compile(
  r"device suite ok on (.+) x(\d+): decode (\d+) tok/s, score (\d+) tok/s, "
  r"sft (\d+) tok/s \(MFU (n/a|\d+\.\d%)\), ppm (\d+) tok/s, search step prefill saved (\d+)%"
)
PARTS = (
  "device",
  "peaks per device",
  "model",
  "expand",
  "search step",
  "score",
  "sft step",
  "checkpoint",
)


def test_tiny_suite_runs_every_part(tmp_path, capsys):
  # Peaks given, so the MFU and roofline arithmetic runs too (a CPU has no table entry).
  with flagsaver.flagsaver(
    tiny=True, device_work_dir=str(tmp_path), peak_flops=1e12, hbm_bandwidth=1e11
  ):
    device.run(["benchmark"])
  lines = capsys.readouterr().out.strip().splitlines()
  match = LAST_LINE.fullmatch(lines[-1])
  assert match, lines[-1]
  kind, count, decode, score, sft, mfu, ppm, saved = match.groups()
  assert (kind, count) == ("cpu", "8")
  assert int(saved) > 50  # depth 2 re-reads its prompt and candidate from the cache
  assert mfu.endswith("%")
  assert min(int(decode), int(score), int(sft), int(ppm)) > 0
  heads = [line.split(":")[0] for line in lines]
  for part in (*PARTS, "hf export", "ppm step"):
    assert any(h.startswith(part) for h in heads), part
  assert "restored equals saved" in next(line for line in lines if line.startswith("checkpoint"))
  assert "achieved" in next(line for line in lines if line.startswith("expand"))
  assert (tmp_path / "checkpoints" / "1").is_dir()
  hf_dir = tmp_path / "sft" / "hf"
  assert (hf_dir / "model.safetensors").stat().st_size > 0
  assert models.ModelConfig.from_hf(hf_dir).num_layers == device.TINY_MODEL.num_layers


def _peaks(kind, flops=None, bandwidth=None):
  peaks = device.device_peaks(kind, flops, bandwidth)
  return peaks.flops, peaks.bandwidth


def test_peaks_come_from_the_table_or_the_flags():
  assert _peaks("NVIDIA H200") == (989e12, 4.8e12)
  assert _peaks("NVIDIA H100 80GB HBM3") == (989e12, 3.35e12)
  assert _peaks("NVIDIA A100-SXM4-80GB") == (312e12, 2.0e12)
  assert _peaks("TPU v5 lite") == (197e12, 8.1e11)
  assert _peaks("NVIDIA H200", flops=1e15) == (1e15, 4.8e12)
  assert _peaks("NVIDIA H100 PCIe") == (None, None)  # Not the SXM part: no guessed peaks.
  unknown = device.device_peaks("cpu", None, None)
  assert device.percent(device.mfu(1e12, unknown, 1)) == "n/a"
  assert device.percent(device.mfu(1e12, device.device_peaks("cpu", 4e12, None), 2)) == "12.5%"
