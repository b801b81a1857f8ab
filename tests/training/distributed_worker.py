"""Run under torchrun by test_distributed.py: train a few steps, then each rank writes its weights.

    python -m torch.distributed.run --nproc_per_node 2 distributed_worker.py OUT FOLDS
    python distributed_worker.py OUT FOLDS        # one process, the same global batch

Writes ``OUT/rank<r>.pt``: the fold models' state dicts (weights and BatchNorm statistics), what their
held-out selection kept, and the losses of the steps this rank took part in.
"""
import sys
from pathlib import Path

import torch

from jcas.data.noise import simulate_noise
from jcas.data.samples import load_sample
from jcas.settings import make_config
from jcas.training import distributed
from jcas.training.trainer import Trainer


def main(out: Path, folds: int) -> None:
    torch.set_num_threads(1)
    device = distributed.start("cpu") if distributed.launched() else "cpu"
    images, masks = load_sample()
    noisy, _ = simulate_noise(masks[:4], "mixed", 0.5, seed=0)
    config = make_config("jcas", "fast", epochs=2, batch_size=4, crop=64, min_steps=1, folds=folds)
    trainer = Trainer([images[:4]], [noisy], config, device=device)
    losses = [event.losses["total"] for event in trainer.run()]
    rank, size = distributed.rank_and_size()
    torch.save({"states": [member.state_dict() for member in trainer.model.members], "losses": losses,
                "steps": trainer.total_steps, "size": size, "epochs": trainer.model.selected_epochs,
                "agreement": [trust.class_agreement.tolist() for trust in trainer.model.trust]},
               out / f"rank{rank}.pt")
    distributed.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
