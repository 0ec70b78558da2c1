"""The public API is a promise: every documented name, option, tag and CLI command, listed here once.

A change to any of them fails this test first; add to the lists, never rename or remove.
"""

import argparse
import dataclasses
import inspect
import subprocess
import sys

import filterviz
from filterviz.cli.commands import build_parser
from filterviz.eventfile import format

NAMES = set(
    [
        "FilterLogger",
        "FilterVizWarning",
        "History",
        "RenderOptions",
        "kernel_grid",
        "load_history",
        "render",
        "save_png",
    ]
)
OPTIONS = [
    "normalize",
    "clip_percentile",
    "cmap",
    "ncols",
    "padding",
    "scale",
    "max_tiles",
    "tile_shape",
    "flatten_order",
    "bgr",
]
CALLBACK_ARGUMENTS = [
    "log_dir",
    "wandb",
    "layer",
    "every_n_epochs",
    "every_n_steps",
    "log_initial",
    "health",
    "store_kernel",
    "log_delta",
]
COMMANDS = {"render", "animate", "demo", "tensorboard"}


def test_top_level_names_are_the_documented_ones():
    assert set(filterviz.__all__) >= NAMES
    homes = {  # where each name is defined: the object users get is that one
        "render": "filterviz.keras.rendering",
        "save_png": "filterviz.keras.rendering",
        "kernel_grid": "filterviz.core.renderer",
        "FilterLogger": "filterviz.keras.callback",
        "RenderOptions": "filterviz",  # shown as filterviz.RenderOptions, where users find it
        "load_history": "filterviz.eventfile.history",
        "History": "filterviz.eventfile.history",
        "FilterVizWarning": "filterviz",
    }
    for name in NAMES:
        value = getattr(filterviz, name)
        assert callable(value) and value.__name__ == name, name
        assert value.__module__ == homes[name], (name, value.__module__)
    assert issubclass(filterviz.FilterLogger, __import__("keras").callbacks.Callback)
    assert filterviz.FilterVizWarning.__module__ == "filterviz"
    assert issubclass(filterviz.FilterVizWarning, UserWarning)


def test_rendering_options_keep_their_names_and_order():
    assert [field.name for field in dataclasses.fields(filterviz.RenderOptions)][: len(OPTIONS)] == OPTIONS


def test_function_signatures_keep_their_arguments():
    assert list(inspect.signature(filterviz.render).parameters)[:3] == ["model", "layer", "options"]
    assert list(inspect.signature(filterviz.save_png).parameters)[:4] == ["model", "path", "layer", "options"]
    assert list(inspect.signature(filterviz.kernel_grid).parameters)[:3] == ["kernel", "kind", "options"]
    assert list(inspect.signature(filterviz.load_history).parameters)[:2] == ["log_dir", "layer"]
    callback = list(inspect.signature(filterviz.FilterLogger.__init__).parameters)[1:]
    assert callback[: len(CALLBACK_ARGUMENTS)] == CALLBACK_ARGUMENTS
    assert callback[-1] == "options"  # every rendering option is a keyword of FilterLogger too


def test_tags_and_run_name_are_unchanged():
    assert format.RUN_NAME == "filters"
    assert format.image_tag("conv1") == "filters/conv1"
    assert format.delta_tag("filters/conv1") == "filters/conv1/delta"
    assert format.scalar_tag("filters/conv1", "dead_fraction") == "filters/conv1/dead_fraction"
    assert format.plugin_tag("filters/conv1", "layer") == "filterviz/conv1/layer"
    assert format.PLUGIN_NAME == "filterviz"


def test_command_line_keeps_its_commands_and_flags():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subcommands.choices) == COMMANDS
    render_flags = {
        flag for action in subcommands.choices["render"]._actions for flag in action.option_strings
    }
    for option in OPTIONS:
        assert f"--{option.replace('_', '-')}" in render_flags
    assert {"--layer", "-o", "--output"} <= render_flags
    assert {"--tag", "--fps", "-o"} <= {
        f for a in subcommands.choices["animate"]._actions for f in a.option_strings
    }
    assert {"--out", "--epochs"} <= {
        f for a in subcommands.choices["demo"]._actions for f in a.option_strings
    }
    # `python -m filterviz` and the `filterviz` script are one program.
    shown = subprocess.run([sys.executable, "-m", "filterviz", "--version"], capture_output=True, text=True)
    assert shown.stdout.strip() == f"filterviz {filterviz.__version__}"


def test_tensorboard_finds_the_filters_tab_where_it_always_did():
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="tensorboard_plugins") if e.name == "filterviz"]
    assert entry.load().plugin_name == "filterviz"


def test_the_torch_front_ends_take_filterloggers_arguments_and_importing_filterviz_imports_no_torch():
    """The torch names are a promise too; and a Keras user never pays for torch's import."""
    import filterviz.lightning
    import filterviz.torch
    import filterviz.transformers

    assert set(filterviz.torch.__all__) >= {"watch", "Watcher", "render", "save_png"}
    watch = list(inspect.signature(filterviz.torch.watch).parameters)
    assert watch[:3] == ["model", "optimizer", "log_dir"] and watch[-1] == "options"
    shared = [name for name in CALLBACK_ARGUMENTS if name != "every_n_epochs"]  # torch counts steps only
    for front_end in (
        filterviz.torch.watch,
        filterviz.lightning.FilterLogger,
        filterviz.transformers.FilterCallback,
    ):
        assert set(shared) | {"mlflow"} <= set(inspect.signature(front_end).parameters), front_end
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, filterviz; filterviz.kernel_grid; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert loaded.stdout.strip() == "False", loaded.stderr
