"""Which module filterviz.torch draws: the first Linear or convolution a forward pass calls, by path.

The real models are built from their configurations with random weights (nothing is downloaded); each is
trained for a few steps under `watch`, and its grids, read back from disk, are the tiles of the chosen
layer's weights at step 0 and after the last step.
"""

import warnings

import numpy as np
import pytest
import timm
import torch
import torchvision
import transformers
from torch import nn

import filterviz
import filterviz.torch
from filterviz.core.warning import FilterVizWarning
from tests.helpers.torch_models import hf_clip_vision, hf_vit, kernel_picture


def train_watched(model, tmp_path, batch, steps=2, **options):
    """`steps` optimizer steps of `model` on `batch` (a tensor, or keyword arguments), watched; returns the
    history read back (of the one layer logged) and the watcher."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    with filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=1, **options) as watcher:
        for _ in range(steps):
            optimizer.zero_grad()
            output = model(**batch) if isinstance(batch, dict) else model(batch)
            output = output[0] if isinstance(output, tuple) else output
            output = getattr(output, "logits", getattr(output, "last_hidden_state", output))
            output.float().square().mean().backward()
            optimizer.step()
    return (filterviz.load_history(tmp_path) if len(watcher.tags) == 1 else None), watcher


IMAGES = torch.randn(2, 3, 32, 32)


def hf_convnext():
    config = transformers.ConvNextConfig(
        num_channels=3, num_stages=2, patch_size=4, hidden_sizes=[8, 16], depths=[1, 1], num_labels=3
    )
    return transformers.ConvNextForImageClassification(config)


REAL_MODELS = {
    "timm ViT": (
        lambda: timm.create_model("vit_tiny_patch16_224", img_size=32, num_classes=3),
        "patch_embed.proj",
    ),
    "timm DeiT": (
        lambda: timm.create_model("deit_tiny_patch16_224", img_size=32, num_classes=3),
        "patch_embed.proj",
    ),
    "timm ConvNeXt": (lambda: timm.create_model("convnext_atto", num_classes=3), "stem.0"),
    "timm ResNet": (lambda: timm.create_model("resnet18", num_classes=3), "conv1"),
    "HF ViT": (hf_vit, "vit.embeddings.patch_embeddings.projection"),
    "HF CLIP vision": (hf_clip_vision, "embeddings.patch_embedding"),
    "HF ConvNeXT": (hf_convnext, "convnext.embeddings.patch_embeddings"),
    "torchvision ResNet": (lambda: torchvision.models.resnet18(num_classes=3), "conv1"),
    "torchvision MobileNetV2": (lambda: torchvision.models.mobilenet_v2(num_classes=3), "features.0.0"),
    "torchvision MobileNetV3": (lambda: torchvision.models.mobilenet_v3_small(num_classes=3), "features.0.0"),
}


@pytest.mark.parametrize("name", REAL_MODELS)
def test_real_models_log_their_stem_or_patch_embedding(name, tmp_path):
    make, expected = REAL_MODELS[name]
    torch.manual_seed(0)
    model = make()
    module = model.get_submodule(expected)
    initial = module.weight.detach().clone()
    batch = {"pixel_values": IMAGES} if name.startswith("HF") else IMAGES
    history, watcher = train_watched(model, tmp_path, batch)

    assert watcher.tags == [f"filters/{expected}"]
    assert history.info["path"] == expected
    assert "the first layer that the model's input reaches" in history.info["choice"]
    assert list(history.steps) == [0, 1, 2]
    np.testing.assert_array_equal(history.grids[0], kernel_picture(module, initial))
    np.testing.assert_array_equal(history.grids[-1], kernel_picture(module, module.weight.detach()))
    assert not np.array_equal(history.grids[0], history.grids[-1])  # it trained


class HeadFirst(nn.Module):
    """Registers its head before its stem, as a model may: registration order is not the data's."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(8, 2)
        self.stem = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))


def test_the_first_layer_called_is_chosen_not_the_first_registered(tmp_path):
    history, watcher = train_watched(HeadFirst(), tmp_path, torch.randn(2, 3, 8, 8))
    assert watcher.tags == ["filters/stem"] and history.info["kind"] == "conv2d"


def test_a_frozen_first_layer_is_passed_over_with_a_warning(tmp_path):
    model = HeadFirst()
    model.stem.requires_grad_(False)
    with pytest.warns(FilterVizWarning, match=r"draws 'head': .* 'stem' comes first but is frozen"):
        history, watcher = train_watched(model, tmp_path, torch.randn(2, 3, 8, 8))
    assert watcher.tags == ["filters/head"]
    assert "frozen" in history.info["choice"]


class TokenModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(10, 8)
        self.proj = nn.Linear(8, 2)

    def forward(self, ids):
        return self.proj(self.tokens(ids))


def test_an_embedding_first_logs_nothing_and_names_the_first_layer_it_draws(tmp_path):
    model = TokenModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    refused = r"'tokens' \(Embedding\), which has no picture.*layer='proj'"
    with (
        pytest.warns(FilterVizWarning, match=refused),
        filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=1) as watcher,
    ):
        model(torch.tensor([[1, 2]])).sum().backward()
        optimizer.step()
    assert watcher.tags == []
    with pytest.raises(ValueError, match="holds no filter images"):
        filterviz.load_history(tmp_path)
    # As it says: layer="proj" draws the projection.
    with filterviz.torch.watch(model, optimizer, tmp_path / "proj", layer="proj") as watcher:
        model(torch.tensor([[1, 2]])).sum().backward()
        optimizer.step()
    assert watcher.tags == ["filters/proj"]


def test_names_are_module_paths_or_their_unambiguous_ends(tmp_path):
    model = hf_vit(num_hidden_layers=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for name in ("vit.embeddings.patch_embeddings.projection", "patch_embeddings.projection", "projection"):
        watcher = filterviz.torch.watch(model, optimizer, tmp_path / "any", layer=name)
        watcher.close()
    with pytest.raises(
        ValueError,
        match=r"'q_proj' is the end of 2 module paths \(vit.layers.0.attention.q_proj, vit.layers.1.*whole",
    ):
        filterviz.torch.watch(model, optimizer, tmp_path, layer="q_proj")
    with pytest.raises(ValueError, match=r"no module 'stem'\. Modules filterviz draws here: vit\.embeddings"):
        filterviz.torch.watch(model, optimizer, tmp_path, layer="stem")
    with pytest.raises(
        ValueError, match=r"'vit.embeddings' is a ViTEmbeddings; .* Inside it: vit\.embeddings\.patch"
    ):
        filterviz.torch.watch(model, optimizer, tmp_path, layer="vit.embeddings")
    with pytest.raises(ValueError, match=r"not a module of this model"):
        filterviz.torch.watch(model, optimizer, tmp_path, layer=nn.Conv2d(3, 3, 3))
    with pytest.raises(TypeError, match=r"layer must be a module path, a torch module, a list of them"):
        filterviz.torch.watch(model, optimizer, tmp_path, layer=3)


def test_several_layers_and_all_in_the_order_they_are_called(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)
    )
    batch = torch.randn(2, 3, 8, 8)
    _, watcher = train_watched(model, tmp_path / "two", batch, layer=["2", model[0]])
    assert watcher.tags == ["filters/2", "filters/0"]
    _, watcher = train_watched(model, tmp_path / "all", batch, layer="all")
    assert watcher.tags == ["filters/0", "filters/2", "filters/4"]
    # The Linear layer behind two convolutions sees features, not the image: flat tiles, not 8x8x3 ones.
    assert filterviz.load_history(tmp_path / "all", layer="4").info["shape_source"] == "flat"


def test_a_wrapper_of_distributed_training_is_looked_through(tmp_path, monkeypatch):
    """DataParallel on the CPU runs the model itself; its paths are the model's, not `module.`-prefixed."""
    model = nn.DataParallel(HeadFirst())
    _, watcher = train_watched(model, tmp_path, torch.randn(2, 3, 8, 8))
    assert watcher.tags == ["filters/stem"]


def test_an_option_the_layer_cannot_take_fails_when_watch_is_called(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"cmap='viridis' colours single-channel tiles, but layer '0'"):
        filterviz.torch.watch(model, optimizer, tmp_path, layer="0", cmap="viridis")
    with pytest.raises(TypeError, match=r"takes the torch.optim.Optimizer that trains the model"):
        filterviz.torch.watch(model, "sgd", tmp_path)
    with pytest.raises(ValueError, match=r"has nowhere to write"):
        filterviz.torch.watch(model, optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filterviz.torch.watch(model, optimizer, tmp_path).close()  # nothing called: nothing logged, no noise
