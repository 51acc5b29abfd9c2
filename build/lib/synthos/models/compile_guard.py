"""torch.compile where it pays and works: CUDA tensors only, eager for good after a failure.

Compiling on CPU costs tens of seconds per shape for little gain, and a broken toolchain
(no Triton, no compiler) must never stop training, so every failure of the compiled call
falls back to the eager function with one warning. The backward graph is lowered with the
forward (not lazily at the first backward), so its failures are caught here too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)


class GuardedCompile:
    """Calls `fn` compiled when `enabled` and the first tensor argument is on one of
    `devices` (CUDA by default); `compile_options` go to `torch.compile`.

    `reason` says why the eager function runs (None while compiled calls succeed); a
    failure of a compiled call is logged once, recorded in `reason` and never retried.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        enabled: bool,
        devices: tuple[str, ...] = ("cuda",),
        **compile_options: Any,
    ) -> None:
        self.fn = fn
        self.enabled = enabled
        self.devices = devices
        self.compile_options = {"dynamic": False, **compile_options}
        self.compiled: Callable[..., Any] | None = None
        self.reason: str | None = None if enabled else "compilation not requested"

    def __call__(self, *args: Any) -> Any:
        if not self.enabled:
            return self.fn(*args)
        first = next(a for a in args if isinstance(a, torch.Tensor))
        if first.device.type not in self.devices:
            self.reason = f"tensors on {first.device.type}, compiled only on {self.devices}"
            return self.fn(*args)
        try:
            if self.compiled is None:
                self.compiled = torch.compile(self.fn, **self.compile_options)
            with _backward_lowered_with_forward():
                result = self.compiled(*args)
            self.reason = None
            return result
        except Exception as exc:  # the eager function is always a correct fallback
            self.enabled = False
            self.reason = f"torch.compile failed, eager from now on: {type(exc).__name__}: {exc}"
            log.warning("%s", self.reason)
            return self.fn(*args)

    def __getstate__(self) -> dict[str, Any]:
        """A compiled function does not pickle (spawned workers, deep copies): recompile."""
        return {**self.__dict__, "compiled": None}


def _backward_lowered_with_forward() -> contextlib.AbstractContextManager:
    """AOT autograd's switch for eager backward lowering, where this torch has it."""
    try:
        from torch._functorch import config
    except ImportError:
        return contextlib.nullcontext()
    if not hasattr(config, "force_non_lazy_backward_lowering"):
        return contextlib.nullcontext()
    return config.patch(force_non_lazy_backward_lowering=True)
