"""Training on Lightning: configuration, the LightningModule, history/curves, and ``fit``."""

from skinxai.training.config import TrainConfig
from skinxai.training.fit import fit

__all__ = ["TrainConfig", "fit"]
