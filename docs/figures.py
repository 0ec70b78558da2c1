"""Make the README's figures from the library itself.  Run:  python docs/figures.py

Needs the dev extra (matplotlib). Every picture of filters here is filterviz's own output.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import filterviz
from filterviz.core import health
from filterviz.keras.quiet import import_quietly

HERE = Path(__file__).parent / "images"


def _table(ax, values, labels, title, highlight=None):
    ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1)
    for (r, c), text in np.ndenumerate(labels):
        ax.text(c, r, text, ha="center", va="center", fontsize=7)
    if highlight is not None:
        ax.add_patch(
            plt.Rectangle((highlight - 0.5, -0.5), 1, values.shape[0], fill=False, lw=2.5, ec="black")
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def mapping_figure(path: Path) -> None:
    """How W (m inputs x n units) and the kernels of convolutions become tiles."""
    rng = np.random.default_rng(3)
    h, w, n = 3, 4, 6
    weights = np.tanh(rng.standard_normal((h * w, n)))
    fig = plt.figure(figsize=(10, 9.3))
    outer = fig.add_gridspec(2, 1, height_ratios=[2, 1], hspace=0.3)
    grid_spec = outer[0].subgridspec(2, 3, width_ratios=[1.4, 1.2, 1.4], hspace=0.45, wspace=0.35)

    ax = fig.add_subplot(grid_spec[0, 0])
    labels = np.array([[f"{k}" for _ in range(n)] for k in range(h * w)])
    _table(
        ax,
        weights,
        labels,
        f"Dense kernel W: {h * w} inputs x {n} units\n(row k = input pixel k)",
        highlight=4,
    )
    ax.set_xlabel("unit i = 0 .. 5", fontsize=8)

    ax = fig.add_subplot(grid_spec[0, 1])
    column = weights[:, 4].reshape(h, w)
    coords = np.array([[f"k={y * w + x}\n({y},{x})" for x in range(w)] for y in range(h)])
    _table(ax, column, coords, "column i = 4, reshaped to the\n3 x 4 input image: k = y*W + x")

    ax = fig.add_subplot(grid_spec[0, 2])
    tiles = filterviz.kernel_grid(
        weights, tile_shape=(h, w, 1), normalize="symmetric", cmap="diverging", scale=12
    )
    ax.imshow(tiles)
    ax.set_title(
        "kernel_grid(W, tile_shape=(3, 4, 1)): tile i at\nrow i // 3, column i % 3 (tile 4: centre)",
        fontsize=9,
    )
    ax.axis("off")

    ax = fig.add_subplot(grid_spec[1, 0])
    ax.axis("off")
    ax.text(
        0,
        0.5,
        "An (H, W, C) image is flattened by Keras as\n"
        "k = (y * W + x) * C + c (also with\n"
        "Flatten(data_format='channels_first')).\n\n"
        "Data flattened channels-first outside\n"
        "the model: flatten_order='chw',\n"
        "k = (c * H + y) * W + x.\n\n"
        "No image behind the layer: the most\n"
        "nearly square gray h x w = m tile.",
        fontsize=8.5,
        va="center",
    )

    kernel = np.tanh(rng.standard_normal((5, 5, 3, 8)))
    ax = fig.add_subplot(grid_spec[1, 1])
    ax.imshow(filterviz.kernel_grid(kernel, scale=8))
    ax.set_title(
        "Conv2D kernel (kh, kw, in, filters) = (5, 5, 3, 8):\ntile i = kernel[:, :, :, i], RGB as is",
        fontsize=9,
    )
    ax.axis("off")

    ax = fig.add_subplot(grid_spec[1, 2])
    ax.imshow(filterviz.kernel_grid(np.tanh(rng.standard_normal((5, 5, 4, 3))), scale=6))
    ax.set_title(
        "in_channels other than 1 or 3 (here 4):\none row per filter, one column per channel", fontsize=9
    )
    ax.axis("off")

    others = [
        (
            "Conv1D (k, in, filters) = (7, 4, 6):\ntile i = kernel[:, :, i].T,\na row per input channel",
            (7, 4, 6),
            None,
        ),
        (
            "DepthwiseConv2D (3, 3, in=3, m=2):\na gray tile per (c, m),\nindex c * m + m'",
            (3, 3, 3, 2),
            "depthwise2d",
        ),
        (
            "Conv2DTranspose (5, 5, out=3, in=4):\ntile i = kernel[..., i], what\ninput i paints (RGB)",
            (5, 5, 3, 4),
            "conv2d_transpose",
        ),
        (
            "Conv3D (kd=3, 4, 4, in=1, 4):\nthe 3 depth slices of a filter\nside by side",
            (3, 4, 4, 1, 4),
            None,
        ),
    ]
    row = outer[1].subgridspec(1, 4, wspace=0.3)
    for column, (title, shape, kind) in enumerate(others):
        ax = fig.add_subplot(row[0, column])
        ax.imshow(filterviz.kernel_grid(np.tanh(rng.standard_normal(shape)), kind=kind, scale=8))
        ax.set_title(title, fontsize=8.5)
        ax.axis("off")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def demo_figures() -> None:
    """The demo's own outputs, the two learning rates' health, and the edges in the three normalize modes."""
    import shutil
    import tempfile

    from filterviz.cli import demo

    with tempfile.TemporaryDirectory() as folder:
        result = demo.run(Path(folder), verbose=0)
        for name in ("edges", "templates"):  # the demo's own pictures, as it writes them
            for suffix in ("gif", "png"):
                shutil.copy(result.pictures[f"{name}.{suffix}"], HERE / f"demo-{name}.{suffix}")
        runs = {f"lr {demo.SENSIBLE_LR:g}": "templates", f"lr {demo.TOO_HIGH_LR:g}": "templates-lr-too-high"}
        histories = {label: filterviz.load_history(Path(folder) / run) for label, run in runs.items()}
        health_figure(histories, HERE / "health.png")
    modes_figure(result.edges_model, HERE / "normalize-modes.png")


def health_figure(histories: dict[str, object], path: Path) -> None:
    """Each run's last logged grid, and all their health curves overlaid, as load_history reads them."""
    fig = plt.figure(figsize=(11, 4.4))
    grid_spec = fig.add_gridspec(2, 4, width_ratios=[1.3, 1, 1, 1], wspace=0.35, hspace=0.6)
    colours = ["#00796b", "#d84315"]
    for row, (label, history) in enumerate(histories.items()):
        ax = fig.add_subplot(grid_spec[row, 0])
        ax.imshow(history.grids[-1], interpolation="nearest")
        ax.set_title(
            f"{label}, {history.info.get('axis', 'step')} {history.steps[-1]}", fontsize=9, color=colours[row]
        )
        ax.axis("off")
    curves = [
        ("update_ratio", "update ratio (log)", True),
        ("drift", "drift from the start", False),
        ("noise", "noise (1 = as rough as random)", False),
        ("dead", "dead filters (share)", False),
        ("redundancy", "near-duplicates beyond chance", False),
        ("opposites", "opposite pairs beyond chance", False),
    ]
    for (name, title, log), spec in zip(
        curves, [grid_spec[r, c] for r in (0, 1) for c in (1, 2, 3)], strict=True
    ):
        ax = fig.add_subplot(spec)
        for colour, (label, history) in zip(colours, histories.items(), strict=False):
            values = history.health.get(name, np.full(len(history.steps), np.nan))
            keep = ~np.isnan(values)
            ax.plot(
                history.steps[keep],
                values[keep],
                marker="o",
                markersize=2.5,
                lw=1.2,
                color=colour,
                label=label,
            )
        if name in ("dead", "redundancy", "opposites"):  # shares: 0 to 100%, as the Filters tab draws them
            ax.set_ylim(-0.03, 1.03)
            ax.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        if log:
            ax.set_yscale("log")
            ax.axhspan(*health.UPDATE_RATIO_BAND, color="#c8e6c9", zorder=0)  # the band the reading uses
            ax.legend(fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(next(iter(histories.values())).info.get("axis", "step"), fontsize=7)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def modes_figure(model, path: Path) -> None:
    modes = [
        ("per_tile", "every filter at full contrast:\nshapes and colours"),
        ("global", "one scale for all:\nstrong, weak and dead filters"),
        ("symmetric", "0 is mid-gray: sign\nand magnitude"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.9))
    for ax, (mode, use) in zip(axes, modes, strict=True):
        ax.imshow(filterviz.render(model, layer="conv1", normalize=mode, scale=5))
        ax.set_title(f'normalize="{mode}"\n{use}', fontsize=9)
        ax.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    import_quietly()
    HERE.mkdir(parents=True, exist_ok=True)
    mapping_figure(HERE / "kernel-to-tiles.png")
    demo_figures()
    print("wrote", *sorted(p.name for p in HERE.iterdir()))


if __name__ == "__main__":
    main()
