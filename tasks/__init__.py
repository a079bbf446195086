"""Tasks turn simulated networks into fitness. Create them by name: ``tasks.make("cartpole")``."""
import functools

from .base import Evaluation, Task, TaskError
from .registry import ENTRY_POINT_GROUP, UnknownTaskError, make, names, register, spec
from .cartpole import CartPole
from .classic_control import Acrobot, ControlTask, MountainCar, MountainCarContinuous, Pendulum
from .classification import DatasetTask, TemporalPatterns
from .double_pole import DoublePole
from .xor import XOR

register("cartpole", CartPole, "CartPole-v1 balance, population-vectorized Gymnasium physics")
register("acrobot", Acrobot, "Acrobot-v1 swing-up, population-vectorized Gymnasium physics")
register("mountaincar", MountainCar, "MountainCar-v0, population-vectorized Gymnasium physics")
register("mountaincar-continuous", MountainCarContinuous,
         "MountainCarContinuous-v0, continuous force, population-vectorized Gymnasium physics")
register("pendulum", Pendulum, "Pendulum-v1 swing-up, continuous torque, population-vectorized Gymnasium physics")
for _name, _what in (("iris", "Iris flowers, 3 classes"), ("wine", "Wine cultivars, 3 classes"),
                     ("breast-cancer", "Breast cancer Wisconsin, 2 classes"),
                     ("digits", "8x8 handwritten digits, 10 classes")):
    register(_name, functools.partial(DatasetTask, _name), f"{_what} (scikit-learn data; the 'datasets' extra)")
register("temporal-patterns", TemporalPatterns,
         "classes with equal firing rates that differ only in spike timing (generated, seeded)")
def _lunarlander(*, episodes: int = 10, max_steps: int = 0, sim_steps: int = 5, validation_episodes: int = 100,
                 reset: str = "subtract"):
    """LunarLander-v3 through the Gymnasium adapter (needs Box2D: the 'box2d' extra)."""
    try:
        import Box2D  # noqa: F401
    except ImportError:
        raise TaskError("task 'lunarlander' needs Box2D: pip install 'evospike[box2d]'") from None
    from .gym_adapter import GymTask
    return GymTask("LunarLander-v3", episodes=episodes, max_steps=max_steps, sim_steps=sim_steps,
                   validation_episodes=validation_episodes, reset=reset)


register("lunarlander", _lunarlander, "LunarLander-v3 through the Gymnasium adapter (the 'box2d' extra)")
register("double-pole", DoublePole, "double-pole cart (Wieland), with or without velocities; RK4, dt = 0.01")
register("xor", XOR, "XOR of two spike trains (rate code with a bias input); fitness 4 - squared error")

__all__ = ["Evaluation", "Task", "TaskError", "UnknownTaskError", "make", "names", "register",
           "spec", "ENTRY_POINT_GROUP", "CartPole", "XOR", "ControlTask", "Acrobot", "MountainCar", "MountainCarContinuous",
           "Pendulum", "DatasetTask", "TemporalPatterns", "DoublePole"]
