"""Correction: a trained model's per-pixel maps, the candidate regions read from them, and the do-no-harm guard."""
