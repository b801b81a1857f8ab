"""Evaluation: metrics, the scoring of a folder of masks, and the summary figure."""
