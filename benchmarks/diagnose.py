"""Diagnosis variants of JCAS (scratch, issue 5): is the learned transition the problem?

    .venv/bin/python benchmarks/diagnose.py --datasets mni --noise mixed:0.5 --seeds 0 \
        --methods jcas_oracleT jcas_warmT --threads 1

Rows land in results/rows/ like any other (report.py lists them in the main table).

- ``jcas_oracleT``: jcas with T_C and T_A FIXED to the true noise matrices of the run (T_C over all
  pixels, T_A over the local pairs at the training offsets). An oracle: what perfect transition
  estimates would buy.
- ``jcas_warmT``: jcas with T_C and T_A initialised, at the end of the warm-up, from the warm-up
  model's confusion with the noisy labels (T_C[i, j] = P(noisy = j | predicted = i), T_A likewise over
  the local pairs), then learned as usual ("Directions that follow", last item).
- ``jcas_warmcore``: the core's ``transition_from_warmup=True`` (T_A implied by T_C instead).
- ``jcas_lowvol``: jcas without the volume term and with a 10x smaller transition learning rate.
- ``jcas_freezeT`` / ``jcas_slowT``: ``jcas_dar`` with T_C and T_A kept at their warm-up start, or learned
  at a 10x smaller rate (is the fall at 3x the schedule a drift of the learned T?).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402


def weights_for(transition: np.ndarray) -> torch.Tensor:
    """W with rownorm(I + sigmoid(W) (1 - I)) == transition (transition diagonally dominant)."""
    t = np.asarray(transition, dtype=np.float64)
    ratio = np.clip(t / np.diag(t)[:, None], 1e-4, 1 - 1e-4)
    w = np.log(ratio / (1 - ratio))
    np.fill_diagonal(w, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def set_transitions(trainer, class_t, affinity_t, freeze: bool) -> None:
    model = trainer.model
    with torch.no_grad():
        model.class_transition.weight.copy_(weights_for(class_t))
        model.affinity_transition.weight.copy_(weights_for(affinity_t))
    if freeze:
        model.class_transition.weight.requires_grad_(False)
        model.affinity_transition.weight.requires_grad_(False)


def oracle_hook(trainer, event, ctx) -> None:
    if event is None:
        row = ctx["row"]
        set_transitions(trainer, row["true_T_C"], row["T_A_local"], freeze=True)


def warm_hook(trainer, event, ctx) -> None:
    if event is None or event.stage != "warmup" or event.epoch != event.epochs or event.step != event.steps_per_epoch:
        return
    model = trainer.model
    values = np.array(model.label_map.values)
    predicted = np.stack([values[quality.probabilities(model, image).argmax(axis=0)] for image in ctx["images"]])
    model.train()
    noisy = ctx["noisy"]
    class_t = np.asarray(quality.true_transition(predicted.astype(noisy.dtype), noisy, values.tolist()))
    affinity_t = np.asarray(quality.true_pair_transition(predicted, noisy, trainer.config.offsets)["T_A_local"])
    ctx["log"]["warm_T_C"], ctx["log"]["warm_T_A"] = class_t.tolist(), affinity_t.tolist()
    set_transitions(trainer, class_t, affinity_t, freeze=False)


VARIANTS = {
    "jcas_oracleT": ("jcas_dar", {}),
    "jcas_warmT": ("jcas_dar", {}),
    "jcas_lowvol": ("jcas_dar", dict(weight_volume=0.0, transition_learning_rate=1e-3)),
    # the core's own option (commit cd5ca03): T_C from the warm-up confusion, T_A implied by T_C
    "jcas_warmcore": ("jcas_dar", dict(transition_from_warmup=True)),
    # does the learned T_C drift in a long corrected stage? T kept at its warm-up start, or learned 10x slower
    "jcas_freezeT": ("jcas_dar", dict(transition_learning_rate=0.0)),
    "jcas_slowT": ("jcas_dar", dict(transition_learning_rate=1e-3)),
    # jcas (no DAR) with T kept at its warm-up start: T_C drifted towards the identity where jcas
    # fell at 3x on dilation / affine jitter
    "jcas_fixedT": ("jcas", dict(transition_learning_rate=0.0)),
}
HOOKS = {"jcas_oracleT": oracle_hook, "jcas_warmT": warm_hook}

if __name__ == "__main__":
    quality.main(extra_variants=VARIANTS, hooks=HOOKS)
