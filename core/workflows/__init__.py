"""Layer 7, workflows: what is done with a trained checkpoint, each loading the checkpoint and the data set
once and passing them down: evaluate it (evaluation), make its int8 copy (quantize), measure its model card
(card), ship a run as a model (ship). Imports every layer below (data, models, evaluate, runs); nothing
below imports a workflow."""
