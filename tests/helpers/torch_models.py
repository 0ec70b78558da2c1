"""Small torch models and the bundled digits as torch tensors, for the torch front end's tests."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import filterviz
from filterviz.torch.kernels import keras_layout, torch_kind


def digits(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` of scikit-learn's bundled 8x8 digits as (N, 1, 8, 8) floats in [0, 1], and their
    labels."""
    data = load_digits()
    images = torch.from_numpy(data.images[:n, None] / 16.0).float()
    return images, torch.from_numpy(data.target[:n]).long()


def digits_cnn(filters: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, filters, 3), nn.ReLU(), nn.Flatten(), nn.Linear(filters * 6 * 6, 10))


def batches(images: torch.Tensor, labels: torch.Tensor, size: int = 32):
    for start in range(0, len(images), size):
        yield images[start : start + size], labels[start : start + size]


def kernel_picture(module: nn.Module, weight: torch.Tensor, **options) -> np.ndarray:
    """The grid filterviz.core draws of `weight` (as torch holds it) moved to Keras' layout."""
    layout = keras_layout(weight.detach().cpu().numpy(), torch_kind(module))
    return filterviz.kernel_grid(np.ascontiguousarray(layout), **options)


class StepRecorder:
    """The weight of `module` after every step of `optimizer` (and before the first), as the test sees it."""

    def __init__(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.module = module
        self.after = {0: module.weight.detach().clone()}
        self._steps = 0
        optimizer.register_step_post_hook(self._record)

    def _record(self, *_):
        self._steps += 1
        self.after[self._steps] = self.module.weight.detach().clone()

    def update_ratio(self, step: int) -> float:
        """‖W_after − W_before‖_F / ‖W_before‖_F of the step that ends at `step`, as the README has it."""
        before, after = self.after[step - 1].double(), self.after[step].double()
        return float(torch.linalg.norm(after - before) / torch.linalg.norm(before))


def train(model, optimizer, images, labels, epochs: int = 1, size: int = 32) -> int:
    """A plain loop: cross-entropy, `epochs` passes over the data; returns the optimizer steps taken."""
    steps = 0
    for _ in range(epochs):
        for x, y in batches(images, labels, size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            steps += 1
    return steps


# A tiny transformer for Hugging Face's vision models, built from their configurations (nothing downloaded).
TINY_TRANSFORMER = dict(
    image_size=32,
    patch_size=8,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=32,
)


def hf_vit(**config):
    """Hugging Face's ViT classifier, tiny, with random weights; `config` changes its ViTConfig."""
    import transformers

    return transformers.ViTForImageClassification(
        transformers.ViTConfig(**{**TINY_TRANSFORMER, "num_labels": 3, **config})
    )


def hf_clip_vision():
    """Hugging Face's CLIP vision tower, tiny, with random weights."""
    import transformers

    return transformers.CLIPVisionModel(transformers.CLIPVisionConfig(**TINY_TRANSFORMER))
