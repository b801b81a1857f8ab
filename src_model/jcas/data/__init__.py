"""Data: image and mask files, pairs of them, label values, simulated noise and the shipped samples."""
