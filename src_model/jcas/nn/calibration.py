"""Calibration of a fold model's class probabilities on its held-out slices, with no clean label.

Temperature scaling (one scalar per fold model) fitted to the noisy masks through the noise model:
the tempered probabilities ``p_tau = softmax(log p / tau)`` of the true class, passed through the
fold model's class transition matrix T_C (``P(noisy j | true i)``), should explain the drawn labels
of slices the model never saw: ``tau`` minimises ``-mean log (p_tau T_C)[drawn]``. Without T_C (the
plain baseline) this is plain temperature scaling against the drawn labels, which counts every
right correction as a mistake and so comes out cooler than the truth would make it.
"""
from __future__ import annotations

import numpy as np

#: Held-out pixels a fold model's temperature is fitted on, drawn evenly from its held-out slices.
CALIBRATION_PIXELS = 60_000
#: The temperatures tried: a log-spaced grid (the loss is smooth in log tau; a grid cannot diverge) from
#: 1 (the probabilities as trained) to 4. Never below 1: fitted against noisy labels, the noise-adapted
#: loss asked the fold models to be bolder (tau 0.4-0.9 on the suite's first rows) while their proposals
#: were already right less often than their confidence said (benchmarks/results/recipe/recipe.md), so
#: a calibration may make a model humbler, never bolder.
TEMPERATURES = np.exp(np.linspace(0.0, np.log(4.0), 33))
_TINY = 1e-7


def tempered(probability: np.ndarray, temperature: float, axis: int = 0) -> np.ndarray:
    """``softmax(log p / temperature)`` along ``axis`` (the class axis); the argmax does not change.

    Parameters
    ----------
    probability : numpy.ndarray
        Class probabilities, e.g. ``(K, H, W)`` or ``(K, N)``.
    temperature : float
        > 1 softens, < 1 sharpens, 1 leaves them as they are.
    axis : int
    """
    if temperature == 1.0:
        return probability
    logits = np.log(np.clip(probability, _TINY, None)) / temperature
    logits -= logits.max(axis=axis, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=axis, keepdims=True)).astype(probability.dtype, copy=False)


def fit_temperature(probability: np.ndarray, drawn: np.ndarray, transition: np.ndarray | None = None) -> float:
    """The temperature under which the (noise-adapted) probabilities best explain the drawn labels.

    Parameters
    ----------
    probability : numpy.ndarray
        ``(K, N)`` the fold model's class probabilities at N held-out pixels.
    drawn : numpy.ndarray
        ``(N,)`` their drawn class indices (no ignored pixel).
    transition : numpy.ndarray, optional
        ``(K, K)`` row-stochastic ``P(noisy j | true i)``; none: the identity.

    Returns
    -------
    float
        The best of :data:`TEMPERATURES` (at least 1); 1.0 when there is no pixel.
    """
    if drawn.size == 0:
        return 1.0
    losses = []
    for temperature in TEMPERATURES:
        clean = tempered(probability.astype(np.float64), float(temperature))
        noisy = clean if transition is None else transition.T.astype(np.float64) @ clean
        losses.append(-np.mean(np.log(np.clip(noisy[drawn, np.arange(drawn.size)], _TINY, None))))
    return float(TEMPERATURES[int(np.argmin(losses))])


def sample_pixels(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of up to ``count`` labelled pixels of ``labels`` ``(H, W)`` (-1 = ignore), drawn without
    replacement, sorted."""
    labelled = np.flatnonzero(labels.ravel() >= 0)
    if labelled.size <= count:
        return labelled
    return np.sort(rng.choice(labelled, size=count, replace=False))
