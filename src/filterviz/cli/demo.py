"""`filterviz demo`: three small trainings on data that ships with scikit-learn, each logged by FilterLogger.

1. ``templates``: a linear classifier, ``Dense(10)`` with softmax, straight on the pixels of the 1,797
   bundled 8x8 digits enlarged to 16x16 (bicubic: templates of 16x16 weights read as digits, where 8x8 ones
   are blotches). Column c of its kernel W, reshaped to 16x16, is digit c's template (CS231n's picture of a
   linear classifier); the demo checks that each template correlates best with the mean image of its own
   digit.
2. ``templates-lr-too-high``: the same classifier with a learning rate over 300 times too high. It logs
   the same layer name, so the Filters tab shows both runs side by side, and the update ratio tells them
   apart.
3. ``edges``: 64 12x12 colour filters of a Conv2D layer learn to reconstruct patches of the two sample
   photographs from few active filters (reconstruction ICA, Le et al. 2011). The photographs are first
   whitened with a low-pass roll-off (Olshausen and Field 1996): the filters become smooth, oriented,
   localized edges and gratings and colour-opponent stripes, as AlexNet's first layer; the demo counts the
   filters with one dominant orientation and gives their noise value against their initialization's.

Everything is written under one folder, with the final grids and animations of every logged step (each at
least 512 pixels on its short side, enlarged by a whole factor, never smoothed), and the demo ends with the
command that opens TensorBoard on it and the link that opens the two classifiers side by side in its
Filters tab. Nothing is downloaded; TensorFlow's start-up lines are held back (filterviz.keras.quiet).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from filterviz.keras.quiet import import_quietly

DEFAULT_OUT = Path("filterviz-demo")
TEMPLATE_EPOCHS = 15
EDGE_EPOCHS = 20
SENSIBLE_LR, TOO_HIGH_LR = 3e-3, 1.0  # Adam, on the digit classifier
PATCH = 12  # pixels of a filter, and of a training patch
DOWNSCALE = 2  # the photos are averaged over 2x2 blocks first: their JPEG blocks and fine grain go
ROLL_OFF = 0.35  # cycles per pixel: f0 of the whitening filter f * exp(-(f / f0)^4)
EDGE_FILTERS = 64
ORIENTED = 0.5  # orientation coherence above which a filter has one dominant orientation

DIGITS_LOOK = {"normalize": "symmetric", "cmap": "diverging", "ncols": 5}  # red: evidence for the digit
DIGIT_SIDE = 16  # pixels: the bundled 8x8 digits, enlarged
PICTURE_SIDE = 512  # pixels: the pictures' short side at least, by a whole factor


def load_digits_images(side: int = DIGIT_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 bundled 8x8 digits as (N, side, side, 1) floats in [0, 1], enlarged by bicubic
    interpolation where `side` is not 8, and their labels."""
    digits = _sklearn_datasets().load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    if side != images.shape[1]:
        from PIL import Image

        bicubic = Image.Resampling.BICUBIC
        images = np.stack(
            [np.asarray(Image.fromarray(image).resize((side, side), bicubic)) for image in images]
        )
    return np.clip(images, 0.0, 1.0)[..., None], digits.target


def photo_patches(count: int, seed: int = 0) -> np.ndarray:
    """`count` random (12, 12, 3) patches of scikit-learn's two sample photographs, each photograph whitened
    with a low-pass roll-off first, each patch with its mean taken out; unit variance over all.

    The whitening filter R(f) = f exp(-(f / f0)^4) (Olshausen and Field 1996), applied to each colour
    channel of the whole photograph in the frequency domain, flattens the photographs' 1/f spectrum, so that
    filters learn structure (edges, colour contrasts) rather than the dominant low frequencies; its roll-off
    above f0 removes the finest frequencies (pixel noise, JPEG blocks), which full whitening would blow up
    into checkerboard filters. Patches are cut away from the borders, where the filter wraps around.
    """
    rng = np.random.default_rng(seed)
    patches = []
    for photo in _sklearn_datasets().load_sample_images().images:
        height, width = (side // DOWNSCALE * DOWNSCALE for side in photo.shape[:2])
        small = photo[:height, :width].reshape(height // DOWNSCALE, DOWNSCALE, width // DOWNSCALE, -1, 3)
        whitened = _whitened(small.mean(axis=(1, 3)) / 255)
        margin = PATCH
        windows = np.lib.stride_tricks.sliding_window_view(
            whitened[margin:-margin, margin:-margin], (PATCH, PATCH), (0, 1)
        )
        rows = rng.integers(0, windows.shape[0], count // 2)
        columns = rng.integers(0, windows.shape[1], count // 2)
        patches.append(windows[rows, columns].transpose(0, 2, 3, 1))  # (n, 3, h, w) -> (n, h, w, 3)
    x = np.concatenate(patches)
    x -= x.mean(axis=(1, 2, 3), keepdims=True)
    return (x / x.std()).astype(np.float32)


def _whitened(image: np.ndarray) -> np.ndarray:
    """Each channel of an (H, W, 3) image, mean removed, filtered by R(f) = f exp(-(f / ROLL_OFF)^4)."""
    frequency = np.hypot(np.fft.fftfreq(image.shape[0])[:, None], np.fft.fftfreq(image.shape[1])[None, :])
    gain = frequency * np.exp(-((frequency / ROLL_OFF) ** 4))
    channels = [np.fft.ifft2(np.fft.fft2(image[..., c] - image[..., c].mean()) * gain).real for c in range(3)]
    return np.stack(channels, axis=-1)


def _sklearn_datasets():
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError(
            "The demo trains on data bundled with scikit-learn: pip install 'filterviz[demo]'"
        ) from None
    return datasets


def linear_classifier(learning_rate: float):
    """Dense(10) with softmax on the 256 pixels, compiled with Adam at `learning_rate`."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((DIGIT_SIDE, DIGIT_SIDE, 1), name="digit"),
            keras.layers.Flatten(),
            keras.layers.Dense(
                10, activation="softmax", kernel_regularizer=keras.regularizers.L2(0.03), name="templates"
            ),
        ],
        name="linear_classifier",
    )
    model.compile(
        keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def edge_learner(steps: int):
    """A Conv2D layer of 64 12x12 colour filters that reconstructs its input patch from sparse responses.

    The decoder is the same kernel transposed (tied weights), so a filter is what it detects and what it
    draws; an L1 penalty on the responses asks for few active filters per patch. The learning rate decays
    over `steps` (cosine), so the update ratio comes down into the healthy band as the filters settle.
    """
    import keras

    encoder = keras.layers.Conv2D(
        EDGE_FILTERS,
        PATCH,
        use_bias=False,
        activity_regularizer=keras.regularizers.L1(0.3 / EDGE_FILTERS),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.05),
        name="conv1",
    )
    patch = keras.Input((PATCH, PATCH, 3), name="patch")
    decoder = _tied_decoder_class()(encoder, name="tied_decoder")
    model = keras.Model(patch, decoder(encoder(patch)), name="edge_learner")
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, steps, alpha=0.01)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    return model


def _tied_decoder_class():
    """Defined on first use, as importing keras is slow."""
    import keras

    class TiedDecoder(keras.layers.Layer):
        """Draws each filter's response back as the filter itself: the patch = sum of response x kernel."""

        def __init__(self, encoder: keras.layers.Conv2D, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.encoder = encoder

        def call(self, responses):
            flat = keras.ops.reshape(responses, (-1, EDGE_FILTERS))
            return keras.ops.einsum("nk,hwck->nhwc", flat, self.encoder.kernel)

    return TiedDecoder


def template_matches(kernel: np.ndarray, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each class c, the class whose mean image correlates best (Pearson, over pixels) with template c."""
    means = np.stack([images[labels == c].reshape(-1, kernel.shape[0]).mean(axis=0) for c in range(10)])
    correlations = np.corrcoef(np.concatenate([kernel.T, means]))[:10, 10:]
    return correlations.argmax(axis=1)


def orientation_coherence(kernel: np.ndarray, size: int = 32) -> np.ndarray:
    """How much of each (kh, kw, channels, filters) filter's power lies along one orientation: 0 to 1.

    |Σ P(f) e^{2iθ(f)}| / Σ P(f) over the 2-D power spectrum P (summed over channels, each channel's mean
    removed, zero-padded to `size`), θ(f) the direction of frequency f. An oriented edge or grating scores
    near 1, a round blob or white noise near 0.
    """
    centred = kernel - kernel.mean(axis=(0, 1), keepdims=True)
    power = (np.abs(np.fft.fft2(centred, s=(size, size), axes=(0, 1))) ** 2).sum(axis=2)
    frequencies = np.fft.fftfreq(size)
    direction = np.exp(2j * np.arctan2(frequencies[:, None], frequencies[None, :]))
    return np.abs(np.einsum("yxf,yx->f", power, direction)) / power.sum(axis=(0, 1))


@dataclass(frozen=True)
class Result:
    """What the demo wrote under `log_dir`, and the trained models (for more pictures)."""

    log_dir: Path
    pictures: dict[str, Path]  # name -> final grid or animation
    templates_model: Any
    edges_model: Any


def run(
    out: Path = DEFAULT_OUT,
    epochs: int | None = None,
    patches: int = 40_000,
    verbose: int = 0,
) -> Result:
    """Run the three trainings, logging under `out`, and write the pictures there.

    `epochs` overrides each training's own count (15 for the classifiers, 20 for the edges).
    """
    keras = import_quietly()

    import filterviz
    from filterviz.cli.animate import animate

    out = Path(out)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[filterviz demo {time.monotonic() - started:4.0f}s] {text}", flush=True)

    images, labels = load_digits_images()
    pictures: dict[str, Path] = {}

    def train_classifier(name: str, learning_rate: float):
        keras.utils.set_random_seed(0)
        model = linear_classifier(learning_rate)
        history = model.fit(
            images,
            labels,
            epochs=epochs or TEMPLATE_EPOCHS,
            batch_size=32,
            validation_split=0.2,
            verbose=verbose,
            callbacks=[filterviz.FilterLogger(out / name, **DIGITS_LOOK)],
        )
        scale = picture_scale(model, **DIGITS_LOOK)
        pictures[f"{name}.png"] = filterviz.save_png(model, out / f"{name}.png", scale=scale, **DIGITS_LOOK)
        pictures[f"{name}.gif"] = animate(out / name, out / f"{name}.gif", fps=3, scale=larger(out / name))
        return model, history.history["val_accuracy"][-1]

    say(
        f"1/3  templates: a linear classifier on scikit-learn's 8x8 digits (enlarged to {DIGIT_SIDE}x"
        f"{DIGIT_SIDE}), Adam at lr {SENSIBLE_LR:g}"
    )
    classifier, accuracy = train_classifier("templates", SENSIBLE_LR)
    matches = template_matches(classifier.get_layer("templates").kernel.numpy(), images, labels)
    right = int((matches == np.arange(10)).sum())
    say(
        f"     {right} of 10 templates correlate best with their own digit's mean image "
        f"(validation accuracy {accuracy:.0%})"
    )

    say(f"2/3  the same classifier at lr {TOO_HIGH_LR:g}, far too high")
    _, too_high_accuracy = train_classifier("templates-lr-too-high", TOO_HIGH_LR)
    ratios = tuple(last_update_ratio(out / name) for name in ("templates", "templates-lr-too-high"))
    say(
        f"     update ratio at the last step: {ratios[0]:.1e} at lr {SENSIBLE_LR:g}, {ratios[1]:.1e} at lr "
        f"{TOO_HIGH_LR:g} (CS231n: about 1e-3 is healthy); validation accuracy {too_high_accuracy:.0%}"
    )

    say(
        f"3/3  edges: {EDGE_FILTERS} Conv2D filters on {patches:,} patches of the sample photographs, "
        "whitened with a low-pass roll-off"
    )
    keras.utils.set_random_seed(0)
    x = photo_patches(patches)
    batch_size = 128
    edges = edge_learner(steps=(epochs or EDGE_EPOCHS) * -(-len(x) // batch_size))
    edges.fit(
        x,
        x,
        epochs=epochs or EDGE_EPOCHS,
        batch_size=batch_size,
        verbose=verbose,
        callbacks=[filterviz.FilterLogger(out / "edges", layer="conv1")],
    )
    scale = picture_scale(edges, layer="conv1")
    pictures["edges.png"] = filterviz.save_png(edges, out / "edges.png", layer="conv1", scale=scale)
    pictures["edges.gif"] = animate(out / "edges", out / "edges.gif", fps=3, scale=larger(out / "edges"))
    history = filterviz.load_history(out / "edges")
    kernels, noise = history.kernels, history.health["noise"]
    oriented = tuple(float((orientation_coherence(k) > ORIENTED).mean()) for k in (kernels[0], kernels[-1]))
    say(
        f"     {oriented[1]:.0%} of the filters have one dominant orientation "
        f"({oriented[0]:.0%} at initialization); noise {noise[-1]:.2f} ({noise[0]:.2f} at initialization: "
        "1 is as rough as random filters)"
    )

    say(f"done in {time.monotonic() - started:.0f} s. Final grids and an animation of every logged step:")
    for path in pictures.values():
        print(f"  {path}")
    print("Open TensorBoard on all three runs:")
    print(f"  {program('filterviz')} tensorboard --logdir {out} --port {PORT}")
    print("then the two classifiers side by side at their last step, in its Filters tab:")
    print(f"  {side_by_side_link(f'http://localhost:{PORT}')}")
    print(f"(if port {PORT} is taken, TensorBoard stops and says so: give another --port, and the link too)")
    return Result(out, pictures, classifier, edges)


PORT = 6006  # TensorBoard's own default


def side_by_side_link(base: str) -> str:
    """The link that opens the two classifiers side by side at their last step, in the Filters tab."""
    from filterviz.dashboard.links import view_link

    return view_link(base, "templates/filters", "filters/templates", ["templates-lr-too-high/filters"])


def picture_scale(model, side: int = PICTURE_SIDE, **options) -> int:
    """The smallest whole scale at which `filterviz.render` draws the model's grid with its short side at
    least `side` pixels (separators stay one pixel)."""
    import filterviz

    height, width = filterviz.render(model, scale=1, **options).shape[:2]
    scale = max(1, -(-side // min(height, width)))
    while min(filterviz.render(model, scale=scale, **options).shape[:2]) < side:
        scale += 1
    return scale


def larger(log_dir: Path, side: int = PICTURE_SIDE) -> int:
    """The whole factor that enlarges the grids logged under `log_dir` to a short side of `side` pixels."""
    import filterviz

    height, width = filterviz.load_history(log_dir).grids[-1].shape[:2]
    return max(1, -(-side // min(height, width)))


def last_update_ratio(run_dir: Path) -> float:
    import filterviz

    return float(filterviz.load_history(run_dir).health["update_ratio"][-1])


def program(name: str) -> str:
    """`name` (tensorboard, filterviz), or the path of the one installed beside this Python when the PATH
    finds another or none (after `make demo` it sits in .venv/bin, which is not on the PATH)."""
    beside = Path(sys.executable).parent / name
    found = shutil.which(name)
    if not beside.exists() or (found and Path(found).resolve() == beside.resolve()):
        return name
    relative = os.path.relpath(beside)
    return relative if not relative.startswith("..") else str(beside)
