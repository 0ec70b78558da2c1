"""The right first layer on the models people train: keras-io's examples in our own words, subclassed,
two-input and distillation models, trained for real on tiny data with `FilterLogger(log_dir)` and no
`layer=`. For each: the layer chosen, and its grid at step 0 and after training, pixel for pixel the tiles
of that layer's kernel then."""

import keras
import numpy as np
import pytest

import filterviz
from filterviz.keras.choice import NoLayerToDraw, find_layer
from tests.helpers import real_models
from tests.helpers.real_models import assert_logged, compiled, data, kernel_of, labels, train_logged


def test_keras_io_vit_draws_the_patch_projection_and_says_which_tile_shape_to_pass(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(real_models.keras_io_vit())
    layer = find_layer(model).layer
    assert find_layer(model).path == "patch_encoder/projection"
    before = kernel_of(layer)
    told = train_logged(model, data((16, 16, 3)), labels(), tmp_path / "flat")
    hint = [m for m in told if "pass tile_shape=(4, 4, 3)" in m]
    assert len(hint) == 1 and "('patches' has patch_size=4)" in hint[0], told
    assert_logged(tmp_path / "flat", "patch_encoder/projection", layer, before)

    keras.utils.set_random_seed(1)  # with the tile shape the message gave: the patches as 4x4 RGB tiles
    model = compiled(real_models.keras_io_vit())
    layer = find_layer(model).layer
    before = kernel_of(layer)
    train_logged(model, data((16, 16, 3)), labels(), tmp_path / "tiles", tile_shape=(4, 4, 3))
    history = assert_logged(
        tmp_path / "tiles", "patch_encoder/projection", layer, before, tile_shape=(4, 4, 3)
    )
    assert history.info["image_shape"] == [4, 4, 3]


def test_conv_mixer_draws_its_patch_convolution(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(real_models.conv_mixer())
    layer = model.get_layer("patch_conv")
    before = kernel_of(layer)
    assert train_logged(model, data((16, 16, 3)) * 255, labels(), tmp_path) == []
    assert_logged(tmp_path, "patch_conv", layer, before)


def test_a_conv1d_inside_a_custom_layer_is_found(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(real_models.ssvep_former())
    layer = model.get_layer("channel_comb").conv
    before = kernel_of(layer)
    assert train_logged(model, data((20, 4)), labels(), tmp_path) == []
    assert_logged(tmp_path, "channel_comb/conv", layer, before)
    assert find_layer(model, "channel_mlp/dense").layer is model.get_layer("channel_mlp").dense


def test_the_image_input_of_a_two_input_model_is_followed_and_named(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(two := real_models.two_inputs())
    found = find_layer(two)
    assert (
        found.path == "conv" and "input 'image' (the first image-like one of 'tokens', 'image')" in found.note
    )
    before = kernel_of(found.layer)
    train_logged(model, [data((5,), dtype="int32"), data((8, 8, 3))], labels(), tmp_path)
    history = assert_logged(tmp_path, "conv", found.layer, before)
    assert "input 'image'" in history.info["choice"]


def test_a_subclassed_model_never_called_before_fit_is_logged_in_the_order_data_flows(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(real_models.SubclassedNet(), keras.optimizers.SGD(0.5))
    x, y = data((8, 8, 3)), labels()
    told = train_logged(model, x, y, tmp_path, epochs=3)
    history = filterviz.load_history(tmp_path)
    assert history.info["path"] == "conv"  # not "head", which was set first
    after = filterviz.kernel_grid(kernel_of(model.conv))
    np.testing.assert_array_equal(history.grids[-1], after)
    assert told == []
    if history.steps[0] == 0:  # built before the first batch (jax, torch): the initial state is there
        assert list(history.steps) == [0, 1, 2, 3]
    else:  # TensorFlow builds it while tracing the first step, which also trains it: said in the caption
        assert list(history.steps) == [1, 2, 3]
        assert "step 0, the weights before training, is missing" in history.info["missing_initial"]


def test_a_subclassed_model_built_before_fit_logs_step_zero(tmp_path):
    keras.utils.set_random_seed(0)
    model = compiled(real_models.SubclassedNet())
    model(np.zeros((1, 8, 8, 3), np.float32))
    before = kernel_of(model.conv)
    train_logged(model, data((8, 8, 3)), labels(), tmp_path)
    history = assert_logged(tmp_path, "conv", model.conv, before)
    assert "traced" not in history.info["choice"] and "attributes" not in history.info["choice"]


def teacher_and_student():
    keras.utils.set_random_seed(0)
    teacher = real_models.small_cnn("teacher", 8)
    teacher.trainable = False
    return teacher, real_models.small_cnn("student", 4)


def test_distillation_draws_the_student_not_the_frozen_teacher(tmp_path):
    teacher, student = teacher_and_student()
    distiller = real_models.Distiller(student=student, teacher=teacher)
    distiller.compile(keras.optimizers.Adam(0.01))
    layer = student.get_layer("conv")
    before = kernel_of(layer)
    told = train_logged(distiller, data((8, 8, 3)), labels(), tmp_path)
    history = filterviz.load_history(tmp_path)
    assert history.info["path"] == "student/conv", history.info
    assert np.all(history.health["drift"][1:] > 0)
    np.testing.assert_array_equal(history.grids[-1], filterviz.kernel_grid(kernel_of(layer)))
    if history.steps[0] == 0:
        np.testing.assert_array_equal(history.grids[0], filterviz.kernel_grid(before))
    assert not any("teacher" in message for message in told), told


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.GradientTape is TensorFlow's")
def test_a_distiller_without_call_draws_the_student_the_optimizer_trains(tmp_path):
    teacher, student = teacher_and_student()
    teacher.trainable = True  # as in keras-io's TF2 form: only the optimizer tells the teacher apart
    distiller = real_models.TrainStepDistiller(student=student, teacher=teacher)
    distiller.compile(keras.optimizers.Adam(0.01))
    layer = student.get_layer("conv")
    before = kernel_of(layer)
    told = train_logged(distiller, data((8, 8, 3)), labels(), tmp_path)
    history = assert_logged(tmp_path, "student/conv", layer, before)
    assert "order of the first training step" in history.info["choice"]
    assert any("'teacher/conv' comes first but is frozen" in message for message in told), told


def test_a_frozen_layer_picked_by_name_is_drawn_with_one_warning(tmp_path):
    teacher, student = teacher_and_student()
    distiller = real_models.Distiller(student=student, teacher=teacher)
    distiller.compile(keras.optimizers.Adam(0.01))
    told = train_logged(distiller, data((8, 8, 3)), labels(), tmp_path, layer="teacher/conv")
    assert [m for m in told if "frozen" in m] == [
        "FilterLogger: layer 'teacher/conv' is frozen (not trained): its update ratio and drift will be 0 "
        "and its grid will not change. Pass the layer you train, if you meant another."
    ]
    assert filterviz.load_history(tmp_path).health["drift"][-1] == 0


def test_attention_first_is_refused_naming_the_layer_a_drawing_could_start_from(tmp_path):
    model = compiled(real_models.attention_first())
    with pytest.raises(NoLayerToDraw, match=r"is 'attention/query' \(EinsumDense\).*pass layer='head'"):
        filterviz.render(model)
    told = train_logged(model, data((16, 32)), labels(), tmp_path)  # training goes on without a grid
    assert len(told) == 1 and told[0].startswith("FilterLogger logs nothing in this training: The first")
    assert not (tmp_path / "filters").exists()


def test_nested_layers_are_named_by_their_path_or_any_unambiguous_end_of_it():
    model = real_models.keras_io_vit()
    projection = model.get_layer("patch_encoder").projection
    for name in ("projection", "patch_encoder/projection", "vit/patch_encoder/projection"):
        assert find_layer(model, name).layer is projection, name
    with pytest.raises(
        ValueError,
        match=r"no layer named 'nope'.*patch_encoder/projection \(Dense\), "
        r"patch_encoder/position \(Embedding\), attention/query \(EinsumDense\).*layer object",
    ):
        find_layer(model, "nope")
