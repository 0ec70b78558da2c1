"""Shared test setup: quiet TensorFlow, W&B offline, an S3 API server for the object-storage tests, and CI's
rule that no test skips unnoticed.

With FILTERVIZ_STRICT_SKIPS=1 (CI sets it), a test that skips for a reason not listed in EXPECTED_SKIPS
for the current Keras backend fails the run: a skip there means CI lacks something a test needs.
"""

import contextlib
import itertools
import os

import pytest

# torch's CUDA build brings Triton, and Triton's library crashes the process (a segmentation fault when
# torch.optim first imports it) if it loads after TensorFlow's: in a process with both, it loads first.
with contextlib.suppress(ImportError):
    import triton  # noqa: F401

from filterviz.keras.quiet import import_quietly

import_quietly()  # Keras (and TensorFlow) before anything imports it: no start-up lines in the run

from tests.helpers.s3_server import Proxy, s3_server  # noqa: E402 (after the quiet import)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")  # never reach the network from a test

# Keras backend -> the skip reasons expected on it (each test's skip reason, exactly).
EXPECTED_SKIPS = {
    "tensorflow": set(),
    "jax": {"tf.distribute is TensorFlow's", "tf.GradientTape is TensorFlow's"},
    "torch": {
        "tf.distribute is TensorFlow's",
        "tf.GradientTape is TensorFlow's",
        "Keras runs one step per execution on torch",
    },
}

_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("FILTERVIZ_STRICT_SKIPS") != "1":
        return
    import keras

    expected = EXPECTED_SKIPS.get(keras.backend.backend(), set())
    unexpected = [(test, reason) for test, reason in _skipped if reason not in expected]
    if unexpected:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.section("skips not on the expected list (tests/conftest.py, EXPECTED_SKIPS)", red=True)
        for test, reason in unexpected:
            reporter.line(f"{test}: {reason}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# An S3 API server for the session (moto's server mode on 127.0.0.1), and for each test that asks a bucket of
# its own, with the environment that points boto3 and s3fs at the server.
_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3, monkeypatch):
    """A new, empty bucket; the environment points at the server."""
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3.make_bucket(f"filterviz-{next(_buckets)}")


@pytest.fixture
def proxy(s3, monkeypatch):
    """A proxy in front of the server that counts what is sent and can be cut off; the environment points
    clients at it."""
    host, port = s3.endpoint.removeprefix("http://").split(":")
    proxy = Proxy((host, int(port)))
    for name, value in s3.environment(proxy.endpoint).items():
        monkeypatch.setenv(name, value)
    yield proxy
    proxy.cut()


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """W&B offline, with every folder it writes under the test's temporary folder."""
    for variable, folder in [
        ("WANDB_DIR", ""),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_DATA_DIR", "data"),
    ]:
        (tmp_path / folder).mkdir(exist_ok=True)
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return tmp_path
