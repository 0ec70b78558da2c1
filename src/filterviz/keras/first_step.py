"""Choosing the layer when it can only be chosen once the model has run its first training step.

A subclassed model that is not called before `fit()` gets its weights in the first training step (Keras
on TensorFlow builds it while tracing that step), and a model whose `call` is not defined (a distiller
that only overrides `train_step`) cannot be traced at all. For these, FilterLogger opens a `FirstStep`
when training begins: it records the order in which the model's layers are first called during the first
step, and, as the first epoch begins, copies the kernels that already exist, so that step 0 can still show
the weights before any update once the layer is chosen. Keras only.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from filterviz.keras import dataflow, kernels
from filterviz.pipeline.steps import ALL_MAX_WEIGHTS

COPY_LIMIT = ALL_MAX_WEIGHTS  # weights copied before the first step, at most


class FirstStep:
    """Waits for the first training step of `model`: `initial` copies kernels before it, `calls` ends the
    wait and tells the order of the layers' first calls."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        every = dataflow.tracked(model)
        self._recorder = dataflow.CallRecorder(found.layer for found in every)
        self._recorder.open()
        self._initial: tuple[int, dict[int, np.ndarray]] | None = None
        self._unbuilt: set[int] = set()  # drawable layers without weights before the first step

    def keep_initial(self, step: int) -> None:
        """Copy every drawable kernel that exists now (the first ones, up to COPY_LIMIT weights), to log
        the one chosen later at `step`."""
        copies: dict[int, np.ndarray] = {}
        weights = 0
        for found in dataflow.tracked(self.model):
            layer = found.layer
            if not isinstance(layer, kernels.SUPPORTED):
                continue
            if not layer.built:
                self._unbuilt.add(id(layer))
                continue
            size = math.prod(kernels.kernel_variable(layer).shape)
            if weights + size <= COPY_LIMIT:
                copies[id(layer)] = kernels.current_kernel(self.model, layer)
                weights += size
        self._initial = (step, copies)

    def calls(self) -> list[int]:
        """End the wait: the ids of the layers in the order the first step called them."""
        self._recorder.close()
        return self._recorder.calls

    def initial(self, targets: list[keras.layers.Layer]) -> tuple[int, tuple[np.ndarray, ...] | None, str]:
        """(step, the kernels of `targets` before the first step or None, why they are missing) for the
        step kept by `keep_initial`; step -1 when none was."""
        if self._initial is None:
            return -1, None, ""
        step, copies = self._initial
        kept = [copies.get(id(layer)) for layer in targets]
        if all(kernel is not None for kernel in kept):
            return step, tuple(kept), ""  # type: ignore[arg-type]
        if any(id(layer) in self._unbuilt for layer in targets):
            why = "the model was built by its first training step, which also trained it"
        else:
            why = f"only the first {COPY_LIMIT:,} weights of the model were copied before the first step"
        return step, None, f"step {step}, the weights before training, is missing: {why}"

    def close(self) -> None:
        self._recorder.close()
