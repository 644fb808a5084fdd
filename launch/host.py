"""What a benchmark ran on: XLA:CPU's speed against torch depends on the CPU's vector ISA (and on
the ISA each is held to: `XLA_FLAGS=--xla_cpu_max_isa=AVX2`, `ATEN_CPU_CAPABILITY=avx2`)."""

import os
import pathlib
import platform
import re
import sys

_ISAS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("sve", "SVE"))


def cpu() -> str:
  """CPU model, widest vector ISA it has, and core count."""
  try:
    info = pathlib.Path("/proc/cpuinfo").read_text()
  except OSError:
    info = ""
  model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
  features = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", info, re.M)
  names = set(features.group(1).split()) if features else set()
  isa = next((isa for flag, isa in _ISAS if flag in names), platform.machine())
  name = model.group(1) if model else platform.processor() or "CPU"
  return f"{name} ({isa}), {os.cpu_count()} cores"


def xla_isa() -> str:
  """The ISA XLA:CPU is held to by XLA_FLAGS, or 'native'."""
  held = re.search(r"--xla_cpu_max_isa=(\S+)", os.environ.get("XLA_FLAGS", ""))
  return held.group(1) if held else "native"


def torch_isa() -> str:
  """torch's CPU kernels: what it chose if it is loaded, else what ATEN_CPU_CAPABILITY asks."""
  torch = sys.modules.get("torch")
  if torch is not None:
    return torch.backends.cpu.get_cpu_capability()
  return os.environ.get("ATEN_CPU_CAPABILITY", "native")


def describe() -> str:
  return f"host: {cpu()}; XLA:CPU ISA {xla_isa()}; torch ISA {torch_isa()}"
