"""The model: networks, pair affinities, affinity reasoning (DAR), the JCAS model with its transition
matrices, cross-fitted fold models, checkpoints and their checks."""
