"""The one device-mesh builder: every mesh of a run has the axes ('data', 'fsdp', 'tensor').

Training runs on a global mesh (every process of a multi-host run); search and evaluation run
on each host's local devices; tests and tiny models use one device.
"""

from collections.abc import Sequence
import math

import jax
from jax.sharding import AxisType
from jax.sharding import Mesh

MESH_AXES = ("data", "fsdp", "tensor")


def parse_mesh_shape(flag: str) -> dict[str, int]:
  """'data:1,fsdp:4,tensor:2' -> {'data': 1, 'fsdp': 4, 'tensor': 2}; omitted axes are 1."""
  shape = dict.fromkeys(MESH_AXES, 1)
  for part in filter(None, (p.strip() for p in flag.split(","))):
    name, sep, size = part.partition(":")
    if not sep or name not in MESH_AXES or not size.isdigit() or int(size) < 1:
      raise ValueError(
        f"bad mesh flag {flag!r}: expected entries like 'fsdp:4' with axes {MESH_AXES}"
      )
    shape[name] = int(size)
  return shape


def make_mesh(flag: str = "", devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A ('data','fsdp','tensor') mesh over `devices` (default: all); fsdp, when not given in
  `flag`, takes the devices the other axes leave."""
  devices = list(devices if devices is not None else jax.devices())
  shape = parse_mesh_shape(flag)
  used = math.prod(shape.values())
  if used != len(devices):
    if "fsdp" not in flag and len(devices) % used == 0:
      shape["fsdp"] = len(devices) // used
    else:
      raise ValueError(f"mesh {shape} needs {used} devices but {len(devices)} are available")
  return jax.make_mesh(
    tuple(shape[a] for a in MESH_AXES),
    MESH_AXES,
    axis_types=(AxisType.Auto,) * len(MESH_AXES),
    devices=devices,
  )


def local_mesh(flag: str = "", num_devices: int = 0) -> Mesh:
  """A mesh over this host's first `num_devices` devices (0: all); search and evaluation never
  span hosts."""
  devices = jax.local_devices()
  return make_mesh(flag, devices=devices[: num_devices or len(devices)])


def global_mesh(flag: str = "", num_devices: int = 0, *, num_processes: int = 1) -> Mesh:
  """The training mesh over the first `num_devices` devices of all processes (0: all)."""
  devices = jax.devices()
  count = num_devices or len(devices)
  if num_processes > 1 and count != len(devices):
    raise ValueError("train_devices must be 0 (all devices) on a multi-host run")
  return make_mesh(flag, devices=devices[:count])


def single_device_mesh() -> Mesh:
  """All three axes of size 1 on the first device (tiny models, tests)."""
  return make_mesh("", devices=jax.devices()[:1])
