"""Grid image -> PNG bytes and files.

PNG encoding is most of the cost of logging a grid, so it uses the fastest lossless encoder measured
(benchmarks/render.py): libpng through `imagecodecs`, installed with filterviz wherever imagecodecs has
wheels. Where it cannot be imported, Pillow encodes the same pixels, more slowly. Either way the file is a
standard PNG that Pillow, TensorBoard and browsers decode to exactly the grid.

How hard to compress is chosen by size, because large grids are mostly noise:
* up to SMALL_GRID_BYTES: zlib level 1 with PNG's Up filter, which finds the rows that nearest-neighbour
  upscaling repeats (a 233 x 233 grid of 7x7 filters: 15 kB instead of 163 kB, in 0.3 ms) and halves
  grids of gray tiles, whose pixels repeat R = G = B (a 784 x 128 Dense layer: 166 kB, in 3.5 ms);
* larger: stored, not deflated (a 1057 x 1057 grid: 3.4 MB in 3 ms; level 1 saves 8% for 30 ms).
"""

from __future__ import annotations

import io
import os
import secrets
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import imagecodecs
except ImportError:  # no wheel for this platform: Pillow encodes instead
    imagecodecs = None

ENCODER = "Pillow" if imagecodecs is None else "imagecodecs"
SMALL_GRID_BYTES = 512 * 1024
_PNG_FILTER_NONE, _PNG_FILTER_UP = 8, 32  # libpng's PNG_FILTER_* flags


def encode_png(image: np.ndarray, *, colour: bool = False) -> bytes:
    """The grid, uint8 (H, W, 1) or (H, W, 3), as PNG bytes (lossless). `colour`: its tiles are in colour,
    not gray (this chooses Pillow's zlib strategy)."""
    if imagecodecs is None:
        return encode_png_with_pillow(image, colour=colour)
    pixels = _pixels(image)
    if pixels.nbytes <= SMALL_GRID_BYTES:
        return imagecodecs.png_encode(pixels, level=1, filter=_PNG_FILTER_UP)
    return imagecodecs.png_encode(pixels, level=0, filter=_PNG_FILTER_NONE)


def encode_png_with_pillow(image: np.ndarray, *, colour: bool = False) -> bytes:
    """The fallback encoder, Pillow at zlib level 1: filter grids barely compress further at higher levels.
    Colour grids take the run-length strategy (30% faster at the same size); gray tiles drawn in an RGB
    grid are R = G = B, which the default strategy's matches halve and run-length coding cannot."""
    buffer = io.BytesIO()
    strategy = zlib.Z_RLE if colour else zlib.Z_DEFAULT_STRATEGY
    Image.fromarray(_pixels(image)).save(buffer, format="PNG", compress_level=1, compress_type=strategy)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 (H, W, 1) or (H, W, 3), the inverse of `encode_png`."""
    with Image.open(io.BytesIO(data)) as png:
        array = np.asarray(png.convert("L" if png.mode in ("L", "1", "I", "I;16") else "RGB"))
    return array[..., None] if array.ndim == 2 else array


def write_png(image: np.ndarray, path: str | os.PathLike[str], *, colour: bool = False) -> Path:
    """Write the grid to `path` as a PNG, atomically: a reader never sees half a file."""
    return write_atomic(Path(path), encode_png(image, colour=colour))


def write_atomic(path: Path, data: bytes) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the permissions, as for any new file (mkstemp uses 0o600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _pixels(image: np.ndarray) -> np.ndarray:
    """(H, W) for a gray grid, (H, W, 3) for a colour one; ValueError for anything else."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected a uint8 (H, W, 1) or (H, W, 3) image, got {image.dtype} {image.shape}")
    return image[..., 0] if image.shape[2] == 1 else image
