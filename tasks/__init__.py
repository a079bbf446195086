"""Tasks turn simulated networks into fitness. Create them by name: ``tasks.make("cartpole")``."""
from .base import Evaluation, Task, TaskError
from .registry import ENTRY_POINT_GROUP, UnknownTaskError, make, names, register, spec
from .cartpole import CartPole
from .xor import XOR

register("cartpole", CartPole, "CartPole-v1 balance, population-vectorized Gymnasium physics")
register("xor", XOR, "XOR of two spike trains (rate code with a bias input); fitness 4 - squared error")

__all__ = ["Evaluation", "Task", "TaskError", "UnknownTaskError", "make", "names", "register",
           "spec", "ENTRY_POINT_GROUP", "CartPole", "XOR"]
