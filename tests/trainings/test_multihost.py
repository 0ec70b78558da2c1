"""Training on several hosts: two processes on 127.0.0.1 joined by `keras.distribution.initialize` (jax's CPU
collectives over gloo, two CPU devices each), with DataParallel and with ModelParallel sharding the first
kernel across the devices of both processes. One process writes, once; every step has the whole kernel.

Each case runs two fresh processes (the device count and the distribution are set before jax starts).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import filterviz
from tests.helpers import ROOT, logged_images

TRAIN = """
import json, os, sys, threading
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
import keras, numpy as np
import filterviz
from filterviz.keras.kernels import kernel_array

process, port, log_dir, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
keras.distribution.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process)
devices = keras.distribution.list_devices()
if kind == "DataParallel":
    distribution = keras.distribution.DataParallel(devices=devices)
else:  # the kernel's filters spread over the 4 devices of both processes: no process holds it whole
    mesh = keras.distribution.DeviceMesh((1, 4), ["batch", "model"], devices)
    layouts = keras.distribution.LayoutMap(mesh)
    layouts[".*conv/kernel"] = (None, None, None, "model")
    distribution = keras.distribution.ModelParallel(layout_map=layouts, batch_dim_name="batch")
distribution.auto_shard_dataset = False  # numpy input: every process feeds the same batches
keras.distribution.set_distribution(distribution)

keras.utils.set_random_seed(0)
layers = [keras.Input((6, 6, 3)), keras.layers.Conv2D(8, 3, name="conv"), keras.layers.Flatten()]
model = keras.Sequential([*layers, keras.layers.Dense(2)])
model.compile(keras.optimizers.SGD(0.1), "mse")
kernel = model.get_layer("conv").kernel.value


class Writers(keras.callbacks.Callback):
    seen = False

    def on_epoch_end(self, epoch, logs=None):
        Writers.seen |= any(thread.name == "filterviz-writer" for thread in threading.enumerate())


rng = np.random.default_rng(0)
x, y = rng.random((64, 6, 6, 3), dtype=np.float32), rng.random((64, 2), dtype=np.float32)
logger = filterviz.FilterLogger(log_dir, every_n_steps=2, store_kernel=True)
model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[logger, Writers()])
final = kernel_array(model.get_layer("conv"))  # a collective too: both processes read it
if process == 0:
    np.save(log_dir + "-final.npy", final)
print(json.dumps({
    "pid": os.getpid(),
    "processes": jax.process_count(),
    "kernel_on_one_process": bool(kernel.is_fully_addressable),
    "kernel_replicated": bool(kernel.is_fully_replicated),
    "writer_thread": Writers.seen,
}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_on_two_processes(log_dir: Path, kind: str) -> list[dict]:
    pytest.importorskip("jax", reason="jax is not installed: pip install 'filterviz[dev]'")
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": str(ROOT),
    }
    port = str(free_port())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRAIN, str(i), port, str(log_dir), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


@pytest.mark.parametrize("kind", ["DataParallel", "ModelParallel"])
def test_two_hosts_write_one_copy_with_the_whole_kernel_at_every_step(tmp_path, kind):
    log_dir = tmp_path / "logs"
    first, second = train_on_two_processes(log_dir, kind)

    assert first["processes"] == second["processes"] == 2
    assert not first["kernel_on_one_process"]
    assert first["kernel_replicated"] == (kind == "DataParallel")
    assert first["writer_thread"] and not second["writer_thread"]  # the other host renders nothing
    files = sorted((log_dir / "filters").iterdir())
    assert len(files) == 1 and f".{first['pid']}." in files[0].name
    images = logged_images(log_dir / "filters", "filters/conv")
    assert [step for step, _ in images] == [0, 2, 4, 6, 8, 10, 12]  # each step once
    history = filterviz.load_history(log_dir)
    assert history.kernels.shape == (7, 3, 3, 3, 8) and np.isfinite(history.kernels).all()
    for (_, grid), kernel in zip(images, history.kernels, strict=True):
        np.testing.assert_array_equal(grid, filterviz.kernel_grid(kernel))
    np.testing.assert_array_equal(history.kernels[-1], np.load(f"{log_dir}-final.npy"))
    assert not np.array_equal(history.kernels[0], history.kernels[-1])
