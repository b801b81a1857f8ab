"""Training across processes: two CPU processes with gloo, started by torchrun as a user starts them."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from jcas.data.io import write_array

WORKER = Path(__file__).with_name("distributed_worker.py")


def torchrun(*args: str, processes: int = 2, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node N ...`` (as ``python -m torch.distributed.run``), one thread each."""
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={processes}", *args], capture_output=True, text=True, env=environment,
                          cwd=cwd, timeout=600)


def two_and_one(tmp_path: Path, folds: int) -> tuple[dict, dict, dict]:
    """What the worker wrote: ranks 0 and 1 of a torchrun of two processes, and a run in one process."""
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    done = torchrun(str(WORKER), str(tmp_path / "two"), str(folds))
    assert done.returncode == 0, done.stderr[-3000:]
    alone = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one"), str(folds)], capture_output=True,
                           text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert alone.returncode == 0, alone.stderr[-3000:]
    first, second = (torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    return first, second, torch.load(tmp_path / "one" / "rank0.pt", weights_only=True)


@pytest.mark.slow
def test_two_processes_share_each_batch_hold_the_same_weights_and_follow_a_one_process_run(tmp_path):
    first, second, single = two_and_one(tmp_path, folds=1)  # one model: both processes train it together
    assert first["size"] == second["size"] == 2 and single["size"] == 1
    for fold_first, fold_second in zip(first["states"], second["states"]):
        for name, value in fold_first.items():  # weights and BatchNorm statistics, bit for bit
            assert torch.equal(value, fold_second[name]), name
    # The same global batch in as many steps. A rank's loss is that of its half of the batch, and its
    # BatchNorm normalises with that half's statistics, so the runs are close rather than equal: the
    # first step (the same weights), as the mean of the ranks' losses, within 1 %; the last epoch within 5 %.
    assert first["steps"] == single["steps"] == len(first["losses"])
    both = (np.array(first["losses"]) + np.array(second["losses"])) / 2
    assert abs(both[0] / single["losses"][0] - 1) < 0.01
    epoch = len(both) // 4
    assert abs(np.mean(both[-epoch:]) / np.mean(single["losses"][-epoch:]) - 1) < 0.05


@pytest.mark.slow
def test_fold_models_spread_over_two_processes_are_those_of_a_one_process_run(tmp_path):
    first, second, single = two_and_one(tmp_path, folds=2)  # each process trains one fold model alone
    assert first["steps"] + second["steps"] == single["steps"]  # each took the steps of its own fold model
    assert first["losses"] == single["losses"][:first["steps"]]
    assert second["losses"] == single["losses"][first["steps"]:]
    for rank in (first, second):  # every rank ends with both fold models, exactly as one process trains them
        assert rank["epochs"] == single["epochs"]
        np.testing.assert_array_equal(rank["agreement"], single["agreement"])
        for fold, state in enumerate(rank["states"]):
            for name, value in state.items():
                assert torch.equal(value, single["states"][fold][name]), (fold, name)


@pytest.mark.slow
def test_torchrun_jcas_train_writes_one_model_and_prints_once(tmp_path, mni):
    images, masks = mni
    for z in range(3):
        write_array(tmp_path / "images" / f"slice{z}.png", images[z])
        write_array(tmp_path / "masks" / f"slice{z}.png", masks[z].astype(np.uint8))
    (tmp_path / "out").mkdir()
    done = torchrun("-m", "jcas.cli", "train", "--images", str(tmp_path / "images"), "--masks",
                    str(tmp_path / "masks"), "--model", str(tmp_path / "out" / "model.pt"), "--preset", "fast",
                    "--epochs", "1", "--folds", "1", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.pt"]
    assert done.stdout.count("saved model to") == 1 and "2 processes" in done.stdout
    from jcas.nn.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "out" / "model.pt").label_map.values == (0, 1, 2)
