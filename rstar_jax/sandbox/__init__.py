"""rstar_jax.sandbox: isolated, fast execution of model-written step programs.

See docs/architecture.md for the contract and `pool` for the design.
"""

from rstar_jax.sandbox.limits import ExecResult
from rstar_jax.sandbox.limits import Limits
from rstar_jax.sandbox.pool import SandboxPool

__all__ = ["ExecResult", "Limits", "SandboxPool"]
