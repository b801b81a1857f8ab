"""What the benchmarks measure is what they say they measure."""
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the high-water mark is read from Linux's /proc")
def test_the_memory_benchmark_reads_the_peak_of_its_own_process_not_of_the_one_that_started_it():
    ballast = np.ones(400 * 2**20 // 8)  # this process's peak rises by 400 MiB before it starts the child
    parent_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    code = "import sys; sys.path.insert(0, 'benchmarks'); from memory import peak_mb; print(peak_mb())"
    child_peak_mb = float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                         check=True).stdout.split()[-1])
    assert ballast.sum() > 0
    assert 0 < child_peak_mb < parent_peak_mb - 300
