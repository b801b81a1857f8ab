"""The CUDA path: mixed-precision training, checkpoints across devices, correction on the GPU.

Skipped where no CUDA GPU is present (CI); run on a GPU machine with
``python -m pytest tests/test_device.py``.
"""
import numpy as np
import pytest
import torch

from jcas import correct
from jcas.data.noise import simulate_noise
from jcas.device import autocast
from jcas.nn.checkpoint import load_checkpoint, save_checkpoint
from jcas.training.trainer import Trainer

from helpers import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_autocast_is_on_for_cuda_only():
    with autocast(torch.device("cuda")):
        assert torch.is_autocast_enabled("cuda")
        product = torch.ones(8, 8, device="cuda") @ torch.ones(8, 8, device="cuda")
        assert product.dtype in (torch.bfloat16, torch.float16)
    with autocast(torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.parametrize("method", ["jcas", "jcas_dar", "ce"])
def test_training_on_cuda_reaches_finite_losses_on_the_gpu(mni, method):
    noisy, _ = simulate_noise(mni[1][:2], kind="mixed", fraction=0.5, seed=0)
    trainer = Trainer([mni[0][:2]], [noisy], tiny_config(method), device="cuda")
    events = list(trainer.run())
    assert len(events) == trainer.total_steps
    assert all(np.isfinite(e.losses["total"]) for e in events)
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in trainer.model.parameters())


def test_a_model_trained_on_cuda_corrects_alike_on_cpu_and_gpu(mni, tmp_path):
    """Weights saved from the GPU load on the CPU; bf16/fp16 autocast changes few decisions."""
    images, masks = mni[0][:2], mni[1][:2]
    trainer = Trainer([images], [masks], tiny_config(epochs=6), device="cuda")
    list(trainer.run())
    path = save_checkpoint(trainer.model, tmp_path / "gpu.pt")
    on_gpu = correct(load_checkpoint(path, device="cuda"), images, masks)
    on_cpu = correct(load_checkpoint(path, device="cpu"), images, masks)
    assert on_gpu.corrected.shape == masks.shape and on_gpu.corrected.dtype == masks.dtype
    assert (on_gpu.corrected == on_cpu.corrected).mean() > 0.99
    assert np.abs(on_gpu.class_disagreement - on_cpu.class_disagreement).mean() < 0.01
