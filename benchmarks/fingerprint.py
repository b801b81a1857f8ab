"""A fingerprint of the core's behaviour: a short seeded training and correction, hashed.

    .venv/bin/python benchmarks/fingerprint.py

Prints the number of steps, the last loss, a SHA-1 of every fold model's weights and one of the
corrected masks. Two checkouts that print the same line train and correct alike to the bit, so a
change meant to move code without changing behaviour (a regrouping) can be checked against its
parent commit: run this file of either checkout with ``PYTHONPATH=<that checkout>/src_model``.
"""
from __future__ import annotations

import hashlib

import torch

from jcas import Trainer, correct, make_config, simulate_noise
from jcas.data.samples import load_sample


def fingerprint() -> str:
    """``"<steps> <last loss> <weights sha1> <corrected sha1>"`` of 4 MRI slices, 4 epochs, one thread."""
    torch.set_num_threads(1)
    images, masks = load_sample()
    images, masks = images[:4], masks[:4]
    noisy, _ = simulate_noise(masks, "mixed", 0.5, seed=0)
    config = make_config("jcas", "fast", epochs=4, batch_size=2, crop=64, min_steps=1)
    trainer = Trainer([images], [noisy], config)
    losses = [event.losses["total"] for event in trainer.run()]
    weights = hashlib.sha1()
    for member in trainer.model.members:
        for _, value in sorted(member.state_dict().items()):
            weights.update(value.cpu().numpy().tobytes())
    corrected = correct(trainer.model, images, noisy).corrected
    return f"{len(losses)} {losses[-1]!r} {weights.hexdigest()} {hashlib.sha1(corrected.tobytes()).hexdigest()}"


if __name__ == "__main__":
    print(fingerprint())
