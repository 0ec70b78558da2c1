"""Filter images logged to a TensorBoard log directory -> one animation, a frame per step.

Every step is read from the event files themselves (filterviz.eventfile.index), not through TensorBoard's
10-sample reservoir. When a step was written twice (a training restarted into the same folder), the later
write wins, as in TensorBoard. Each frame carries its step in a band above the grid.

A GIF holds at most 256 colours a frame: a grid with more (RGB filters) is reduced to 256 without
dithering. An animated PNG (`.png`) keeps every value exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from filterviz.core.png import decode_png
from filterviz.eventfile.format import delta_tag
from filterviz.eventfile.history import choose_layer
from filterviz.eventfile.index import read_png

BAND_HEIGHT = 16  # pixels of label band above each grid


@dataclass(frozen=True)
class Frame:
    step: int
    image: np.ndarray  # the grid as logged, uint8 (H, W, 1) or (H, W, 3)


def read_frames(logdir: str | os.PathLike[str], tag: str | None = None) -> tuple[str, list[Frame]]:
    """(tag, frames in step order) of the filter images under `logdir`.

    Without `tag`, the log directory must hold the grids of exactly one layer (`filters/<layer>`);
    `filters/<layer>/delta` animates a layer's delta grids. Raises ValueError naming what was found and
    how to choose.
    """
    delta = tag is not None and tag.endswith("/delta")
    found = choose_layer(logdir, tag.removesuffix("/delta") if delta else tag)
    images, image_tag = (
        found.locations["delta" if delta else "grid"],
        delta_tag(found.tag) if delta else found.tag,
    )
    if not images:
        raise ValueError(
            f"{logdir} holds no {image_tag!r} images: log them with FilterLogger(log_delta=True)."
        )
    frames = [Frame(step, decode_png(read_png(images[step], image_tag))) for step in sorted(images)]
    return image_tag, frames


def labelled(frame: Frame, text: str | None = None, scale: int = 1) -> Image.Image:
    """The frame's grid as RGB, enlarged `scale` times (each pixel a whole block), under a white band that
    says which step it is."""
    rgb = np.repeat(frame.image, 3, axis=2) if frame.image.shape[2] == 1 else frame.image
    if scale > 1:
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    text = text or f"step {frame.step}"
    font = ImageFont.load_default()
    width = max(rgb.shape[1], int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)) + 8)
    canvas = Image.new("RGB", (width, rgb.shape[0] + BAND_HEIGHT), "white")
    canvas.paste(Image.fromarray(rgb), (0, BAND_HEIGHT))
    ImageDraw.Draw(canvas).text((4, 2), text, fill="black", font=font)
    return canvas


def write_animation(
    frames: list[Frame], path: str | os.PathLike[str], fps: float = 4.0, scale: int = 1
) -> Path:
    """Frames to an animated GIF, or to a lossless animated PNG when `path` ends in .png; each grid pixel a
    `scale` x `scale` block (nearest neighbour: no colour is made up)."""
    path = Path(path)
    if not frames:
        raise ValueError("there are no frames to animate")
    if fps <= 0:
        raise ValueError(f"fps={fps} must be positive")
    if not (isinstance(scale, int) and 1 <= scale <= 64):
        raise ValueError(f"scale={scale} must be a whole number from 1 to 64")
    images = [labelled(frame, scale=scale) for frame in frames]
    if path.suffix.lower() == ".gif":  # 256 colours a frame; no dithering, so flat areas stay flat
        images = [
            im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) for im in images
        ]
    elif path.suffix.lower() != ".png":
        raise ValueError(f"{path.name}: write the animation as .gif or .png (animated PNG, lossless)")
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def animate(
    logdir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    tag: str | None = None,
    fps: float = 4.0,
    scale: int = 1,
) -> Path:
    """Read every logged step of `tag` under `logdir` and write the animation to `output`, each grid pixel
    enlarged to a `scale` x `scale` block."""
    _, frames = read_frames(logdir, tag)
    return write_animation(frames, output, fps, scale)
