"""Models people train today, tiny: the model code of keras-io's examples written again in our own words, and
keras-hub backbones built from config with random weights (no preset is downloaded).

Each keeps what matters to finding its first layer: where the kernel sits (inside a custom layer, a nested
backbone, a subclassed model's attributes), what comes before it, and how it is trained.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import layers, ops

import filterviz
from filterviz.keras.kernels import kernel_kind


class Patches(layers.Layer):
    """Cuts images into non-overlapping square patches, each flattened to one vector (as keras-io's ViT)."""

    def __init__(self, patch_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.patch_size = patch_size

    def call(self, images):
        patches = ops.image.extract_patches(images, size=self.patch_size)
        count = patches.shape[1] * patches.shape[2]
        return ops.reshape(patches, (ops.shape(images)[0], count, patches.shape[-1]))


class PatchEncoder(layers.Layer):
    """A Dense projection of each flattened patch, plus a learned embedding of its position."""

    def __init__(self, patches: int, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.patches = patches
        self.projection = layers.Dense(width, name="projection")
        self.position = layers.Embedding(patches, width, name="position")

    def call(self, flat_patches):
        where = ops.expand_dims(ops.arange(self.patches), axis=0)
        return self.projection(flat_patches) + self.position(where)


def keras_io_vit(side: int = 16, patch: int = 4, width: int = 8, classes: int = 3) -> keras.Model:
    """keras-io's "Image classification with Vision Transformer", one small block: patches, a patch
    encoder, attention and an MLP, then a classifier on the flattened tokens."""
    images = keras.Input((side, side, 3), name="images")
    tokens = PatchEncoder((side // patch) ** 2, width, name="patch_encoder")(Patches(patch)(images))
    attended = layers.MultiHeadAttention(2, width, name="attention")(
        layers.LayerNormalization()(tokens), layers.LayerNormalization()(tokens)
    )
    tokens = layers.Add()([tokens, attended])
    mlp = layers.Dense(width, activation="gelu", name="mlp")(layers.LayerNormalization()(tokens))
    tokens = layers.Add()([tokens, mlp])
    logits = layers.Dense(classes, name="head")(layers.Flatten()(layers.LayerNormalization()(tokens)))
    return keras.Model(images, logits, name="vit")


def conv_mixer(side: int = 16, width: int = 8, patch: int = 2, classes: int = 3) -> keras.Model:
    """keras-io's ConvMixer: a strided patch convolution, then depthwise and pointwise mixing."""
    images = keras.Input((side, side, 3))
    x = layers.Rescaling(1 / 255)(images)
    x = layers.Conv2D(width, patch, strides=patch, name="patch_conv")(x)
    x = layers.BatchNormalization()(layers.Activation("gelu")(x))
    mixed = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = layers.Add()([x, layers.BatchNormalization()(layers.Activation("gelu")(mixed))])
    x = layers.Conv2D(width, 1, name="pointwise")(x)
    return keras.Model(images, layers.Dense(classes)(layers.GlobalAveragePooling2D()(x)), name="conv_mixer")


class ChannelCombination(layers.Layer):
    """A 1x1 Conv1D that mixes EEG channels, normalized (keras-io's SSVEPFormer keeps its only
    convolutions inside custom layers like this one)."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = layers.Conv1D(2 * channels, 1, padding="same", name="conv")
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return ops.gelu(self.norm(self.conv(x)))


class ChannelMLP(layers.Layer):
    def __init__(self, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = layers.Dense(width, name="dense")

    def call(self, x):
        return x + self.dense(x)


def ssvep_former(steps: int = 20, channels: int = 4, classes: int = 3) -> keras.Model:
    signals = keras.Input((steps, channels), name="signals")
    x = ChannelCombination(channels, name="channel_comb")(signals)
    x = ChannelMLP(2 * channels, name="channel_mlp")(x)
    return keras.Model(signals, layers.Dense(classes, name="head")(layers.Flatten()(x)), name="ssvep_former")


def small_cnn(name: str, filters: int, side: int = 8, classes: int = 3) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((side, side, 3)),
            layers.Conv2D(filters, 3, name="conv"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(classes, name="logits"),
        ],
        name=name,
    )


class Distiller(keras.Model):
    """keras-io's knowledge distillation in its Keras 3 form: the student is the model (`call`), the teacher
    only gives soft targets in `compute_loss`."""

    def __init__(self, student: keras.Model, teacher: keras.Model) -> None:
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(self, optimizer, temperature: float = 3.0, alpha: float = 0.1) -> None:
        super().compile(optimizer=optimizer)
        self.temperature, self.alpha = temperature, alpha

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        soft = ops.softmax(self.teacher(x, training=False) / self.temperature)
        student = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        distilled = keras.losses.kl_divergence(soft, ops.softmax(y_pred / self.temperature))
        return ops.mean(self.alpha * student + (1 - self.alpha) * distilled * self.temperature**2)

    def call(self, x):
        return self.student(x)


class TrainStepDistiller(keras.Model):
    """The same distillation in its TF2 form: no `call`; `train_step` runs the teacher, then the student
    under a gradient tape, and updates the student's weights only. TensorFlow only."""

    def __init__(self, student: keras.Model, teacher: keras.Model) -> None:
        super().__init__()
        self.teacher = teacher
        self.student = student

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        soft = tf.nn.softmax(self.teacher(x, training=False) / 3.0)
        with tf.GradientTape() as tape:
            logits = self.student(x, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
                + keras.losses.kl_divergence(soft, tf.nn.softmax(logits / 3.0))
            )
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return {"loss": loss}


class SubclassedNet(keras.Model):
    """Layers as attributes, in an order that is not the data's (the head is set first), never called
    before fit()."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__(name="net")
        self.head = layers.Dense(classes, name="head")
        self.conv = layers.Conv2D(4, 3, name="conv")
        self.pool = layers.GlobalAveragePooling2D()

    def call(self, x):
        return self.head(self.pool(self.conv(x)))


def two_inputs(classes: int = 3) -> keras.Model:
    """Token ids first, an image second: the image's branch is the one to draw."""
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    image = keras.Input((8, 8, 3), name="image")
    words = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4, name="words")(tokens))
    seen = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, name="conv")(image))
    logits = layers.Dense(classes, name="head")(layers.Concatenate()([words, seen]))
    return keras.Model([tokens, image], logits, name="two_inputs")


def attention_first(classes: int = 3) -> keras.Model:
    """A sequence straight into attention: its query projection (an EinsumDense) is the first kernel."""
    sequence = keras.Input((16, 32), name="sequence")
    attended = layers.MultiHeadAttention(2, 8, name="attention")(sequence, sequence)
    return keras.Model(sequence, layers.Dense(classes, name="head")(layers.Flatten()(attended)))


# keras-hub backbones, from config: (builder, the path of the layer a user means).


def hub_vit_classifier():
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=4, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16
    )
    return keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=3)


def hub_clip_vision():
    import keras_hub

    return keras_hub.models.CLIPVisionEncoder(
        patch_size=4, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16, image_shape=(16, 16, 3)
    )


def hub_clip():
    import keras_hub

    text = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=50,
        embedding_dim=8,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        max_sequence_length=6,
    )
    return keras_hub.models.CLIPBackbone(
        vision_encoder=hub_clip_vision(), text_encoder=text, projection_dim=8
    )


def hub_dinov2():
    import keras_hub

    return keras_hub.models.DINOV2Backbone(
        patch_size=4,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        image_shape=(16, 16, 3),
        position_embedding_shape=(16, 16, 3),
    )


def hub_vitdet():
    import keras_hub

    return keras_hub.models.ViTDetBackbone(
        hidden_size=8,
        num_layers=1,
        intermediate_dim=16,
        num_heads=2,
        global_attention_layer_indices=[0],
        image_shape=(16, 16, 3),
        patch_size=4,
        num_output_channels=8,
        window_size=2,
    )


def hub_resnet():
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        image_shape=(16, 16, 3),
    )


def hub_efficientnet():
    import keras_hub

    return keras_hub.models.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0],
        stackwise_depth_coefficients=[1.0],
        stackwise_kernel_sizes=[3],
        stackwise_num_repeats=[1],
        stackwise_input_filters=[8],
        stackwise_output_filters=[8],
        stackwise_expansion_ratios=[1],
        stackwise_squeeze_and_excite_ratios=[0.25],
        stackwise_strides=[1],
        stackwise_block_types=["v1"],
        stackwise_force_input_filters=[0],
        stackwise_nores_option=[False],
        input_shape=(16, 16, 3),
    )


def with_head(backbone: keras.Model, classes: int = 3) -> keras.Model:
    """A backbone whose output (tokens or a feature map) is pooled into a small classifier, to train it."""
    features = backbone(backbone.input)
    if isinstance(features, dict):
        features = features["sequence_output"]
    pooled = layers.Flatten()(features)
    return keras.Model(backbone.input, layers.Dense(classes, name="classes")(pooled), name="with_head")


# Training them in the tests: tiny data, one FilterLogger, what it logged.


def data(shape, count=32, classes=3, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(0, 20, (count, *shape)).astype("int32")
    return rng.random((count, *shape), dtype=np.float32)


def labels(count=32, classes=3, seed=1):
    return np.random.default_rng(seed).integers(0, classes, count)


def kernel_of(layer) -> np.ndarray:
    return keras.ops.convert_to_numpy(layer.kernel).copy()


def train_logged(model, x, y, log_dir=None, epochs=2, callbacks=(), **logger):
    """fit() with `callbacks`, then FilterLogger(log_dir, **logger); its FilterVizWarnings, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logging = filterviz.FilterLogger(log_dir, **logger)
        model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[*callbacks, logging])
    return [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]


def assert_logged(log_dir, path, layer, before, **options):
    """The run logged `path`; its first grid is step 0 drawn from `before`, its last the kernel now."""
    history = filterviz.load_history(log_dir)
    assert history.info["path"] == path
    kind = kernel_kind(layer).kind
    after = kernel_of(layer)
    assert not np.array_equal(before, after), "the layer did not train"
    assert history.steps[0] == 0
    np.testing.assert_array_equal(history.grids[0], filterviz.kernel_grid(before, kind=kind, **options))
    np.testing.assert_array_equal(history.grids[-1], filterviz.kernel_grid(after, kind=kind, **options))
    return history


def compiled(model, optimizer="adam"):
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
