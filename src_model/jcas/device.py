"""Device choice in one place: auto = cuda, then mps, then cpu."""
from __future__ import annotations

import torch

from .errors import JCASInputError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def _present() -> list[str]:
    present = []
    if torch.cuda.is_available():
        present.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        present.append("mps")
    return present + ["cpu"]


def available_devices() -> list[str]:
    """The device choices this machine offers, ``"auto"`` first (e.g. ``["auto", "cpu"]``)."""
    return ["auto"] + _present()


def select_device(name: str = "auto") -> torch.device:
    """Resolve a device name; ``"auto"`` takes the first of cuda, mps, cpu that is present."""
    if name not in DEVICE_CHOICES:
        raise JCASInputError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}.")
    present = _present()
    if name == "auto":
        return torch.device(present[0])
    if name not in present:
        raise JCASInputError(f"device {name!r} is not available here; available: {', '.join(present)}.")
    return torch.device(name)


def autocast(device: torch.device):
    """Mixed-precision context: bfloat16/float16 autocast on CUDA, a no-op elsewhere."""
    if device.type != "cuda":
        return torch.autocast(device_type="cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)
