"""Loading a model file never runs code from it, on every Keras that filterviz allows."""

from pathlib import Path

import keras
import pytest
from packaging.requirements import Requirement

from filterviz.cli import commands as cli
from tests.helpers import assert_usage_error, filterviz_cli

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parents[2]

# Keras releases with published model-loading vulnerabilities (README, "Security"): the last affected
# release of each line that had one.
VULNERABLE_KERAS = ["3.5.0", "3.8.0", "3.10.0", "3.11.2", "3.12.0", "3.13.1", "3.13.2"]


def keras_requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (keras_line,) = [line for line in project["dependencies"] if Requirement(line).name == "keras"]
    return Requirement(keras_line)


def test_no_allowed_keras_has_a_published_model_loading_vulnerability():
    allowed = keras_requirement().specifier
    assert not [version for version in VULNERABLE_KERAS if allowed.contains(version)], allowed
    assert allowed.contains("3.14.0") and allowed.contains(keras.__version__)
    # The run-time check refuses exactly what the package metadata refuses.
    floor = ".".join(map(str, cli.SAFE_KERAS))
    assert allowed.contains(floor) and not allowed.contains("3.13.99")


def model_that_touches(marker: Path) -> keras.Model:
    """A model whose Lambda layer creates `marker` whenever it runs (building the model runs it once)."""
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    return keras.Sequential([keras.Input((3,)), keras.layers.Lambda(touch), keras.layers.Dense(2)])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_file_holding_code_is_refused_and_its_code_never_runs(tmp_path, suffix):
    marker = tmp_path / "the-code-ran"
    model_that_touches(marker).save(tmp_path / f"model{suffix}")
    marker.unlink()  # building the model ran the Lambda once

    result = filterviz_cli("render", tmp_path / f"model{suffix}", "-o", tmp_path / "out.png")
    assert_usage_error(result, "holds Python code (such as a Lambda layer), which filterviz will not run")
    assert "safe_mode=False" not in result.stderr
    assert not marker.exists() and not (tmp_path / "out.png").exists()

    # The file is a real threat: loading it without safe mode runs its code.
    keras.saving.load_model(tmp_path / f"model{suffix}", compile=False, safe_mode=False)
    assert marker.exists()


@pytest.mark.parametrize("version", ["3.13.2", "3.5.0", "2.15.0", "nightly"])
def test_a_keras_with_known_loading_vulnerabilities_is_refused_before_loading(
    tmp_path, monkeypatch, capsys, version
):
    path = tmp_path / "model.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    loaded = []
    monkeypatch.setattr(keras, "__version__", version)
    monkeypatch.setattr(keras.saving, "load_model", lambda *args, **kwargs: loaded.append(args))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["render", str(path), "-o", str(tmp_path / "out.png")])
    assert exit_info.value.code == 2 and not loaded
    message = capsys.readouterr().err
    assert f"Keras {version} has published vulnerabilities in loading model files" in message
    assert "pip install 'keras>=3.14'" in message
