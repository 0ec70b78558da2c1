"""Reading grids back in tests: where tile i sits, and the formulas the docs promise."""

from __future__ import annotations

import numpy as np

from filterviz.grid import PADDING_COLOUR


def cell(image: np.ndarray, row: int, col: int, tile_hw: tuple[int, int], scale: int = 1, padding: int = 1):
    """The pixels of the tile at (row, col) of a grid."""
    th, tw = tile_hw
    top = padding + row * (th * scale + padding)
    left = padding + col * (tw * scale + padding)
    return image[top : top + th * scale, left : left + tw * scale]


def tile(image, index, ncols, tile_hw, scale=1, padding=1):
    """Tile `index` of a row-major grid with `ncols` columns, one pixel per weight."""
    row, col = divmod(index, ncols)
    block = cell(image, row, col, tile_hw, scale, padding)
    return block[::scale, ::scale]


def level(v: float) -> int:
    """The documented gray level of v in [0, 1]: v * 255 rounded half up."""
    return int(np.floor(v * 255 + 0.5))


def padding_mask(image, rows, cols, tile_hw, scale=1, padding=1) -> np.ndarray:
    """True where a grid has separator pixels (between tiles and around the border)."""
    mask = np.ones(image.shape[:2], bool)
    for r in range(rows):
        for c in range(cols):
            th, tw = tile_hw
            top = padding + r * (th * scale + padding)
            left = padding + c * (tw * scale + padding)
            mask[top : top + th * scale, left : left + tw * scale] = False
    return mask


PAD = np.array(PADDING_COLOUR, np.uint8)


def logged_images(run_dir, tag):
    """[(step, image)] of every image event under `tag` in a TensorBoard run directory, read from disk."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    from filterviz.writers.png import decode_png

    accumulator = EventAccumulator(str(run_dir), size_guidance={TENSORS: 0})  # 0: keep every event
    accumulator.Reload()
    return [(event.step, decode_png(event.tensor_proto.string_val[2])) for event in accumulator.Tensors(tag)]


def logged_steps(run_dir, tag):
    return [step for step, _ in logged_images(run_dir, tag)]
