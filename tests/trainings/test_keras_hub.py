"""keras-hub backbones, built from config with random weights (no preset is downloaded), trained for a few
batches with `FilterLogger(log_dir)` and no `layer=`: the layer a user means is logged (the patch embedding
of every ViT-like model, the stem of the CNNs), and its grids are the tiles of its kernel at step 0 and after
training, pixel for pixel."""

import keras
import numpy as np
import pytest

import filterviz
from filterviz.keras.choice import find_layer
from tests.helpers import real_models
from tests.helpers.real_models import assert_logged, compiled, data, kernel_of, labels, train_logged

pytest.importorskip("keras_hub", reason="keras-hub is not installed: pip install -e '.[dev]'")


def inside(holder: str, attribute: str):
    """The layer a keras-hub layer holds as `attribute` (its own name may be auto-numbered)."""
    return lambda backbone: getattr(backbone.get_layer(holder), attribute)


def named(name: str):
    return lambda backbone: backbone.get_layer(name)


# (backbone, the layer a user means: its patch embedding or its stem)
BACKBONES = [
    (real_models.hub_clip_vision, inside("embedding", "patch_embedding")),
    (real_models.hub_dinov2, lambda backbone: backbone.get_layer("embeddings").patch_embeddings.projection),
    (real_models.hub_vitdet, inside("vi_t_det_patching_and_embedding", "projection")),
    (real_models.hub_resnet, named("conv1_conv")),
    (real_models.hub_efficientnet, named("stem_conv")),
]


@pytest.mark.parametrize("build, meant", BACKBONES, ids=[build.__name__ for build, _ in BACKBONES])
def test_a_backbone_with_a_head_logs_its_first_layer(build, meant, tmp_path):
    keras.utils.set_random_seed(0)
    backbone = build()
    model = compiled(real_models.with_head(backbone))
    found = find_layer(model)
    assert found.layer is meant(backbone)
    expected = found.path
    assert expected.startswith(f"{backbone.name}/")
    before = kernel_of(found.layer)
    assert train_logged(model, data((16, 16, 3)), labels(), tmp_path) == []
    assert_logged(tmp_path, expected, found.layer, before)
    np.testing.assert_array_equal(
        filterviz.render(backbone), filterviz.render(model)
    )  # alone, the same layer


def test_the_vit_image_classifier_logs_the_patch_embedding_not_its_head(tmp_path):
    keras.utils.set_random_seed(0)
    classifier = real_models.hub_vit_classifier()
    classifier.compile(keras.optimizers.Adam(0.01))
    path = f"{classifier.backbone.name}/vit_patching_and_embedding/patch_embedding"
    layer = find_layer(classifier).layer
    before = kernel_of(layer)
    train_logged(classifier, data((16, 16, 3)), labels(), tmp_path)
    assert_logged(tmp_path, path, layer, before)
    for name in ("patch_embedding", "vit_patching_and_embedding/patch_embedding", path):
        assert find_layer(classifier, name).layer is layer, name


def test_two_tower_clip_follows_the_image_input_past_the_text_tower(tmp_path):
    keras.utils.set_random_seed(0)
    clip = real_models.hub_clip()
    found = find_layer(clip)
    assert found.path == f"{clip.vision_encoder.name}/embedding/patch_embedding"
    assert "input 'images' (the first image-like one of 'images', 'token_ids')" in found.note
    clip.compile(keras.optimizers.Adam(0.01), loss={"vision_logits": "mse", "text_logits": "mse"})
    x = {"images": data((16, 16, 3)), "token_ids": data((6,), dtype="int32") % 50}
    y = {"vision_logits": np.ones((32, 8), np.float32), "text_logits": np.ones((32, 8), np.float32)}
    before = kernel_of(found.layer)
    train_logged(clip, x, y, tmp_path)
    assert_logged(tmp_path, found.path, found.layer, before)
