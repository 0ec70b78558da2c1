"""Shared test setup: quiet TensorFlow, deterministic seeds, a Keras import done once."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")  # never reach the network from a test
