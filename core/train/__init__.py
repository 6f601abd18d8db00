"""Layer 6, training: the loop (loop.py, readable in one screen, its config plain data: core.config),
the optimiser and schedule, the device, knowledge distillation, the recipes, and the curves it draws.
Imports layers 0-5 (a teacher is found through the model catalogue); never jobs, workflows or the CLI.

    run = train(recipe_config("quick"))     # a run folder in model/runs/, trained in this process
"""
from .device import describe_device, resolve_device
from .loop import subsample, train, train_step
from .optim import make_optimizer, make_scheduler
from .preflight import check_before_start
from .recipes import RECIPES, recipe_config

__all__ = ["RECIPES", "check_before_start", "describe_device", "make_optimizer", "make_scheduler", "recipe_config",
           "resolve_device", "subsample", "train", "train_step"]
