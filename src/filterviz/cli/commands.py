"""The `filterviz` command: render a saved model, animate a log directory, run the demo, serve TensorBoard
on an object store.

A mistake in what it is given (a file that is not there or not a model, a model without a layer filterviz
draws, a log directory without filter images, a bad option) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from filterviz import __version__
from filterviz.core.options import RenderOptions, option_names

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args, passed_on = parser.parse_known_args(argv)  # TensorBoard's own arguments, for `tensorboard`
    if args.command is tensorboard_command:
        args.arguments = passed_on
    elif passed_on:
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    try:
        message = args.command(args)
    except (ValueError, OSError, ImportError) as error:  # our clear errors, and the OS's
        parser.exit(EXIT_USAGE, f"filterviz: error: {one_line(error)}\n")
    if message:
        print(message)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="filterviz", description="See what the first layer of a Keras model has learned."
    )
    parser.add_argument("--version", action="version", version=f"filterviz {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    render = commands.add_parser(
        "render",
        help="draw a saved model's first-layer filters as a PNG",
        description="Load a saved Keras model (.keras, or legacy .h5) in safe mode and write its first "
        "kernel layer (or --layer) as one grid image.",
    )
    render.add_argument("model_file", type=Path, metavar="MODEL_FILE", help="a .keras or .h5 model file")
    render.add_argument(
        "-o", "--output", type=Path, default=Path("filters.png"), help="PNG to write (default: %(default)s)"
    )
    render.add_argument(
        "--layer", help="the layer to draw, by name or path (default: the first kernel layer)"
    )
    add_rendering_options(render)
    render.set_defaults(command=render_command)

    animate = commands.add_parser(
        "animate",
        help="turn the filter images in a TensorBoard log directory into a GIF",
        description="Read every step FilterLogger wrote under LOGDIR (not only TensorBoard's 10 samples) and "
        "write an animation with the step on each frame: .gif, or .png for a lossless animated PNG.",
    )
    animate.add_argument(
        "logdir",
        metavar="LOGDIR",
        help="the log directory FilterLogger wrote to (a folder, or a URL such as s3://bucket/logs)",
    )
    animate.add_argument(
        "-o", "--output", type=Path, default=Path("evolution.gif"), help="default: %(default)s"
    )
    animate.add_argument("--tag", help="the image tag, such as filters/conv1 (needed when there are several)")
    animate.add_argument(
        "--fps", type=positive_float, default=4.0, help="frames per second (default: %(default)s)"
    )
    animate.add_argument(
        "--scale",
        type=positive_int,
        default=1,
        help="enlarge each grid pixel to a whole block of this many pixels, never smoothed (default: 1)",
    )
    animate.set_defaults(command=animate_command)

    demo = commands.add_parser(
        "demo",
        help="train small models on bundled data and log their filters",
        description="Train a linear classifier on scikit-learn's digits (twice: at a sensible and at a "
        "far too high learning rate) and a Conv2D layer on low-pass whitened patches of its sample "
        "photographs, log them with FilterLogger, write each one's final grid and an animation, and print "
        "the tensorboard command that shows them. Nothing is downloaded; about half a minute on 2 cores.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("filterviz-demo"), help="output folder (default: %(default)s)"
    )
    demo.add_argument(
        "--epochs",
        type=positive_int,
        help="epochs of every training (default: 15 for the classifiers, 20 for the edges)",
    )
    demo.set_defaults(command=demo_command)

    serve = commands.add_parser(
        "tensorboard",
        help="start TensorBoard on a log directory of an object store (s3://, gs://)",
        description="Start TensorBoard with these arguments, reading log directories through fsspec (s3fs, "
        "gcsfs, ...) as TensorBoard does where TensorFlow is not installed: where it is, TensorBoard "
        "refuses s3:// (TensorFlow 2.21's file systems do not serve it). For example: filterviz "
        "tensorboard --logdir s3://bucket/logs",
    )
    serve.set_defaults(command=tensorboard_command)
    return parser


def add_rendering_options(parser: argparse.ArgumentParser) -> None:
    """One flag per field of RenderOptions, from its own help text and parser: defined once, there."""
    group = parser.add_argument_group("rendering options (as in filterviz.render)")
    for field in dataclasses.fields(RenderOptions):
        flags = [f"--{field.name.replace('_', '-')}"] + ([f"--{field.name}"] if "_" in field.name else [])
        meta = field.metadata
        if meta["parse"] is bool:
            group.add_argument(*flags, dest=field.name, action="store_true", default=None, help=meta["help"])
            continue
        help_text = meta["help"] + ("" if field.default is None else f" (default: {field.default})")
        group.add_argument(
            *flags, dest=field.name, type=_reported(meta["parse"]), choices=meta["choices"], help=help_text
        )


def _reported(parse):
    """`parse`, with its ValueError shown by argparse (which otherwise prints only the function's name)."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def chosen_options(args: argparse.Namespace) -> dict[str, Any]:
    names = set(option_names())
    return {name: value for name, value in vars(args).items() if name in names and value is not None}


def render_command(args: argparse.Namespace) -> str:
    options = RenderOptions.from_kwargs(**chosen_options(args))  # bad values fail before Keras loads
    model = load_model(args.model_file)

    from filterviz.core.png import write_png
    from filterviz.keras.rendering import render_found

    image, renderer, found = render_found(model, args.layer, options)
    path = write_png(image, args.output, colour=renderer.colour)
    why = f": {found.note}" if found.note else ""
    return f"Wrote {path}: layer {found.path!r} ({type(found.layer).__name__}){why}"


# Keras releases before 3.14 have published model-loading vulnerabilities: safe mode bypassed by a crafted
# config (CVE-2025-1550, CVE-2025-9906), ignored for .h5 files (CVE-2025-9905), code execution in
# deserialization (CVE-2026-1462), unbounded HDF5 weight loading (CVE-2026-0897), path traversal in archive
# extraction. pyproject.toml requires this version too; the check below also covers a Keras installed by
# other means.
SAFE_KERAS = (3, 14)


def load_model(path: Path):
    """A saved model, in Keras' safe mode (no arbitrary code from the file runs)."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise ValueError(f"{path}: not a Keras model file; give a .keras file, or a legacy .h5")
    from filterviz.keras.quiet import import_quietly

    keras = import_quietly()

    check_keras_loads_safely(keras.__version__)
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a file it cannot read
        if "safe_mode" in str(error):  # Keras suggests turning safe mode off: we never do
            raise ValueError(
                f"{path}: cannot be loaded as a Keras model: it holds Python code (such as a Lambda layer), "
                "which filterviz will not run (unsafe to deserialize). Build the model in Python and call "
                "filterviz.render(model) instead."
            ) from error
        raise ValueError(f"{path}: cannot be loaded as a Keras model: {one_line(error)}") from error


def check_keras_loads_safely(version: str) -> None:
    """Refuse to load model files with a Keras whose loader has published vulnerabilities."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None or tuple(map(int, match.groups())) < SAFE_KERAS:
        floor = ".".join(map(str, SAFE_KERAS))
        raise ValueError(
            f"Keras {version} has published vulnerabilities in loading model files (a crafted file can run "
            f"code), so filterviz will not load one with it. Upgrade: pip install 'keras>={floor}'"
        )


def animate_command(args: argparse.Namespace) -> str:
    from filterviz.cli.animate import read_frames, write_animation

    tag, frames = read_frames(args.logdir, args.tag)
    path = write_animation(frames, args.output, args.fps, args.scale)
    return f"Wrote {path}: {len(frames)} frames of {tag}, steps {frames[0].step} to {frames[-1].step}"


def demo_command(args: argparse.Namespace) -> str:
    from filterviz.cli import demo

    demo.run(args.out, epochs=args.epochs)
    return ""


def tensorboard_command(args: argparse.Namespace) -> str:
    from filterviz.cli.serve import run_tensorboard

    run_tensorboard(args.arguments)
    return ""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def one_line(error: BaseException, limit: int = 400) -> str:
    text = re.sub(r"\s+", " ", str(error)).strip() or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    main(sys.argv[1:])
