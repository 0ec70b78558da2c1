"""Filter images logged to a TensorBoard log directory -> one animation, a frame per step.

Every step is read from the event files themselves, not through TensorBoard's 10-sample reservoir. When a
step was written twice (a training restarted into the same folder), the later write wins, as in
TensorBoard. Each frame carries its step in a band above the grid.

A GIF holds at most 256 colours a frame: a grid with more (RGB filters) is reduced to 256 without
dithering. An animated PNG (`.png`) keeps every value exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from filterviz.writers.png import decode_png
from filterviz.writers.tensorboard import read_events

IMAGES_PLUGIN = "images"
BAND_HEIGHT = 16  # pixels of label band above each grid


@dataclass(frozen=True)
class Frame:
    step: int
    image: np.ndarray  # the grid as logged, uint8 (H, W, 1) or (H, W, 3)


def read_frames(logdir: str | os.PathLike[str], tag: str | None = None) -> tuple[str, list[Frame]]:
    """(tag, frames in step order) of the filter images under `logdir`.

    Without `tag`, the log directory must hold images of exactly one filterviz tag (`filters/...`).
    Raises ValueError naming what was found and how to choose.
    """
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise ValueError(f"{logdir} is not a folder: give the log directory FilterLogger wrote to.")

    def wanted(name: str) -> bool:
        return name == tag if tag is not None else name.startswith("filters/")

    seen: set[tuple[str, str]] = set()  # every (run, image tag), for the message when none is chosen
    found: dict[tuple[str, str], dict[int, bytes]] = {}  # the PNGs of the tags that can be chosen
    for path in sorted(logdir.rglob("*tfevents*")):  # file names start with their creation time
        run = path.parent.relative_to(logdir).as_posix()
        image_tags = set()  # TensorFlow writes a tag's plugin metadata with its first event only
        for event in read_events(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == IMAGES_PLUGIN:
                    image_tags.add(value.tag)
                if value.tag in image_tags and len(value.tensor.string_val) >= 3:
                    seen.add((run, value.tag))
                    if wanted(value.tag):
                        found.setdefault((run, value.tag), {})[event.step] = value.tensor.string_val[2]
    choices = sorted(found)
    listing = ", ".join(f"{t} (run {r})" for r, t in sorted(seen)) or "none"
    if not choices:
        wanted = f"tag {tag!r}" if tag else "filter images (tags filters/...)"
        raise ValueError(f"{logdir} holds no {wanted}; image tags found: {listing}.")
    if len(choices) > 1:
        if len({t for _, t in choices}) > 1:
            raise ValueError(f"{logdir} holds several filter tags: {listing}. Choose one with --tag.")
        runs = ", ".join(r for r, _ in choices)
        raise ValueError(f"{logdir} holds {choices[0][1]!r} in several runs ({runs}): give the run's folder.")
    ((run, chosen),) = choices
    frames = [Frame(step, decode_png(png)) for step, png in sorted(found[(run, chosen)].items())]
    return chosen, frames


def labelled(frame: Frame, text: str | None = None) -> Image.Image:
    """The frame's grid as RGB under a white band that says which step it is."""
    rgb = np.repeat(frame.image, 3, axis=2) if frame.image.shape[2] == 1 else frame.image
    text = text or f"step {frame.step}"
    font = ImageFont.load_default()
    width = max(rgb.shape[1], int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)) + 8)
    canvas = Image.new("RGB", (width, rgb.shape[0] + BAND_HEIGHT), "white")
    canvas.paste(Image.fromarray(rgb), (0, BAND_HEIGHT))
    ImageDraw.Draw(canvas).text((4, 2), text, fill="black", font=font)
    return canvas


def write_animation(frames: list[Frame], path: str | os.PathLike[str], fps: float = 4.0) -> Path:
    """Frames to an animated GIF, or to a lossless animated PNG when `path` ends in .png."""
    path = Path(path)
    if not frames:
        raise ValueError("there are no frames to animate")
    if fps <= 0:
        raise ValueError(f"fps={fps} must be positive")
    images = [labelled(frame) for frame in frames]
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
    logdir: str | os.PathLike[str], output: str | os.PathLike[str], tag: str | None = None, fps: float = 4.0
) -> Path:
    """Read every logged step of `tag` under `logdir` and write the animation to `output`."""
    _, frames = read_frames(logdir, tag)
    return write_animation(frames, output, fps)
