"""Where a benchmark figure came from: the commit and the machine, recorded in every row."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_commit() -> str:
    """Short hash of the checked-out commit; ``JCAS_BENCH_COMMIT`` where the copy has no git history."""
    if os.environ.get("JCAS_BENCH_COMMIT"):
        return os.environ["JCAS_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001  not a git checkout, or no git
        return "unknown"


def machine() -> str:
    """Processor and CPU count, plus the GPU's name where CUDA is present (e.g. ``x86_64/2 cpus``)."""
    import torch

    text = f"{platform.processor() or platform.machine()}/{os.cpu_count()} cpus"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text
