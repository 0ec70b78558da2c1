"""Which layer is drawn, how its image shape is inferred, and every error on the way."""

import keras
import pytest
from keras import layers

from filterviz.keras.choice import find_layer
from filterviz.keras.image_shape import infer_tile_shape


def dense_mlp(input_shape=(8, 8, 1), units=4):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dropout(0.1),
            layers.Dense(units, name="first"),
            layers.Dense(3, name="second"),
        ],
        name="mlp",
    )


def test_first_dense_after_layers_without_kernels():
    found = find_layer(dense_mlp())
    assert found.layer.name == "first"
    assert infer_tile_shape(found) == ((8, 8, 1), "hwc")


def test_first_conv2d_after_preprocessing_and_pooling():
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Normalization(),
            layers.RandomFlip(),
            layers.MaxPooling2D(),
            layers.Conv2D(4, 3, name="conv"),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    assert find_layer(model).layer.name == "conv"
    assert infer_tile_shape(find_layer(model)) is None  # Conv2D tiles come from the kernel itself


def test_sequential_nested_in_a_functional_model():
    inner = keras.Sequential(
        [layers.Rescaling(0.5), layers.Flatten(), layers.Dense(5, name="inner_dense")], name="inner"
    )
    inputs = keras.Input((6, 4, 3))
    model = keras.Model(inputs, layers.Dense(2, name="head")(inner(inputs)))
    found = find_layer(model)
    assert found.layer.name == "inner_dense" and found.path == "inner/inner_dense"
    assert infer_tile_shape(found) == ((6, 4, 3), "hwc")


def test_backbone_sub_model_before_the_head():
    backbone_in = keras.Input((12, 12, 3))
    backbone = keras.Model(
        backbone_in, layers.Conv2D(6, 5, name="stem")(layers.Rescaling(1 / 255)(backbone_in)), name="backbone"
    )
    inputs = keras.Input((12, 12, 3))
    x = layers.GlobalAveragePooling2D()(backbone(inputs))
    model = keras.Model(inputs, layers.Dense(3, name="head")(x))
    found = find_layer(model)
    assert found.path == "backbone/stem"
    assert find_layer(model, "backbone/stem").layer is found.layer
    assert find_layer(model, "stem").layer is found.layer


def two_input_backbone():
    """A token input into an Embedding and an image input into a Conv2D: a two-input backbone."""
    tokens, image = keras.Input((5,), dtype="int32", name="tokens"), keras.Input((8, 8, 3), name="image")
    text = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4, name="embed")(tokens))
    picture = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, name="conv")(image))
    return keras.Model([tokens, image], layers.Concatenate()([text, picture]), name="backbone")


def test_a_two_input_backbone_nested_in_a_task_model_is_followed_from_its_image_input():
    inner = two_input_backbone()
    task = keras.Model(inner.input, layers.Dense(2, name="head")(inner(inner.input)), name="task")
    assert find_layer(inner).path == "conv"
    found = find_layer(task)  # the image input through the nested graph: not the text tower's Embedding
    assert found.path == "backbone/conv" and found.layer is inner.get_layer("conv")


def test_preprocessing_sub_model_that_flattens_before_the_dense():
    pre = keras.Sequential([keras.Input((5, 5, 3)), layers.Rescaling(0.5), layers.Flatten()], name="pre")
    inputs = keras.Input((5, 5, 3))
    model = keras.Model(inputs, layers.Dense(2, name="d")(pre(inputs)))
    assert infer_tile_shape(find_layer(model)) == ((5, 5, 3), "hwc")


def test_mnist_style_input_without_a_channel_axis():
    assert infer_tile_shape(find_layer(dense_mlp((28, 28)))) == ((28, 28, 1), "hwc")


def test_flatten_channels_first_still_orders_inputs_h_w_c():
    model = keras.Sequential(
        [keras.Input((3, 4, 5)), layers.Flatten(data_format="channels_first"), layers.Dense(2)]
    )
    assert infer_tile_shape(find_layer(model)) == ((4, 5, 3), "hwc")


def test_reshape_to_flat_is_read_in_memory_order():
    model = keras.Sequential([keras.Input((4, 5, 3)), layers.Reshape((60,)), layers.Dense(2)])
    assert infer_tile_shape(find_layer(model)) == ((4, 5, 3), "hwc")


def test_flat_input_and_a_dense_after_learned_layers_have_no_image():
    flat = keras.Sequential([keras.Input((64,)), layers.Dense(4)])
    assert infer_tile_shape(find_layer(flat)) is None
    cnn = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(4, name="late")]
    )
    assert infer_tile_shape(find_layer(cnn, "late")) is None


def test_layer_by_name_and_by_object():
    model = dense_mlp()
    assert find_layer(model, "second").layer.name == "second"
    layer = model.get_layer("second")
    assert find_layer(model, layer).layer is layer


def test_unknown_name_lists_the_layers_that_have_kernels():
    with pytest.raises(
        ValueError,
        match=r"no layer named 'nope'. Layers with kernels, in the order data reaches them: first \(Dense\), "
        r"second \(Dense\). Name one by its path or by the end of it, or pass the layer object itself",
    ):
        find_layer(dense_mlp(), "nope")


def test_a_model_without_a_kernel_layer_names_what_was_seen():
    model = keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(), layers.Dropout(0.5)], name="empty")
    with pytest.raises(
        ValueError,
        match=r"'empty' has no layer with a kernel that the model's input reaches; it has flatten.* "
        r"\(Flatten\), dropout.* \(Dropout\). filterviz draws the kernels of Dense, Conv1D, Conv2D",
    ):
        find_layer(model)


def test_a_model_that_is_not_built_yet():
    model = keras.Sequential([layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"is not built yet.*keras.Input.*model.build"):
        find_layer(model)


def test_another_kernel_layer_first_is_refused_with_what_is_supported():
    model = keras.Sequential(
        [
            keras.Input((5,)),
            layers.Embedding(10, 4, name="emb"),
            layers.Flatten(),
            layers.Dense(2, name="later"),
        ]
    )
    with pytest.raises(
        ValueError,
        match=r"reaches is 'emb' \(Embedding\), a kind filterviz does not draw; it does not draw a deeper "
        r"layer as if it were the first. The first layer it draws further on is 'later' \(Dense\): pass "
        r"layer='later' to draw it",
    ):
        find_layer(model)
    with pytest.raises(ValueError, match="is a Embedding"):
        find_layer(model, "emb")
    assert find_layer(model, "later").layer.name == "later"  # a Dense further on can still be chosen


def test_layer_argument_of_the_wrong_type():
    with pytest.raises(TypeError, match="layer must be a layer name, a Keras layer or None"):
        find_layer(dense_mlp(), 3)
    with pytest.raises(TypeError, match=r"Expected a keras\.Model"):
        find_layer(layers.Dense(3))
