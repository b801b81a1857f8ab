"""Training: the dataset of random crops and the trainer, a generator of progress events."""
