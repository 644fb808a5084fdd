"""Every benchmark names the host it ran on and the ISA XLA:CPU and torch were held to."""

import sys

from launch import host


def test_host_line_names_the_isas_each_library_was_held_to(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=8 --xla_cpu_max_isa=AVX2")
  monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
  monkeypatch.delitem(sys.modules, "torch", raising=False)
  line = host.describe()
  assert "XLA:CPU ISA AVX2" in line and "torch ISA avx2" in line
  assert "cores" in line and "(" in line


def test_unheld_isas_are_native(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
  monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
  monkeypatch.delitem(sys.modules, "torch", raising=False)
  assert host.xla_isa() == "native" and host.torch_isa() == "native"
