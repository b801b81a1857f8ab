"""The training loss: the loss terms of class-affinity loss correction (CALC) and the objective of one batch."""
