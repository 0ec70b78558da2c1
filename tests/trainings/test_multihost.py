"""Training on several hosts: two processes on 127.0.0.1, one process writes, once; every step has the
whole kernel.

* Keras: joined by `keras.distribution.initialize` (jax's CPU collectives over gloo, two CPU devices each),
  with DataParallel and with ModelParallel sharding the first kernel across the devices of both processes;
* torch: joined by torch.distributed (gloo), with DistributedDataParallel and with FSDP2 (`fully_shard`),
  which shards every weight across the two processes, watched by filterviz.torch.watch.

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
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    return run_on_two_processes(TRAIN, log_dir, kind, env)


def run_on_two_processes(script: str, log_dir: Path, kind: str, env: dict[str, str]) -> list[dict]:
    """`script` run as processes 0 and 1 of a training on 127.0.0.1; the JSON each prints last."""
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    port = str(free_port())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i), port, str(log_dir), kind],
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


TORCH_TRAIN = """
import json, os, sys, threading
import numpy as np, torch, torch.distributed as dist
from sklearn.datasets import load_digits
import filterviz.torch  # as a torch script would: no Keras, no TensorFlow in these processes

rank, port, log_dir, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
torch.manual_seed(0)  # the same initial weights on both processes
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 10)
)
initial = model[0].weight.detach().clone().numpy()
if kind == "DDP":
    trained = torch.nn.parallel.DistributedDataParallel(model)
else:  # FSDP2: every weight sharded across the two processes, its filters split between them
    from torch.distributed.fsdp import fully_shard
    for layer in (model[0], model[3]):
        fully_shard(layer)
    trained = fully_shard(model)
sharded = type(model[0].weight).__name__ == "DTensor"
optimizer = torch.optim.SGD(trained.parameters(), lr=0.1)
digits = load_digits()
images = torch.from_numpy(digits.images[rank:128:2, None] / 16.0).float()  # this process's half
labels = torch.from_numpy(digits.target[rank:128:2]).long()
seen = []
with filterviz.torch.watch(trained, optimizer, log_dir, every_n_steps=2, store_kernel=True):
    for epoch in range(2):  # 2 batches of 32 an epoch: 4 steps
        for start in (0, 32):
            optimizer.zero_grad()
            batch = slice(start, start + 32)
            torch.nn.functional.cross_entropy(trained(images[batch]), labels[batch]).backward()
            optimizer.step()
    seen.append(any(thread.name == "filterviz-writer" for thread in threading.enumerate()))
    seen.append("tensorflow" in sys.modules or "keras" in sys.modules)
weight = model[0].weight.detach()
final = (weight.full_tensor() if sharded else weight).numpy()  # a collective when sharded
if rank == 0:
    np.savez(log_dir + "-weights.npz", initial=initial, final=final)
print(json.dumps({"pid": os.getpid(), "sharded": sharded, "writer_thread": seen[0], "keras": seen[1]}))
"""


@pytest.mark.parametrize("kind", ["DDP", "FSDP2"])
def test_two_torch_processes_write_one_copy_with_the_whole_weight_at_every_step(tmp_path, kind):
    log_dir = tmp_path / "logs"
    first, second = run_on_two_processes(TORCH_TRAIN, log_dir, kind, {})

    assert first["sharded"] == second["sharded"] == (kind == "FSDP2")
    assert first["writer_thread"] and not second["writer_thread"]  # rank 1 renders nothing
    assert not first["keras"]  # filterviz.torch never imports Keras or TensorFlow
    files = sorted((log_dir / "filters").iterdir())
    assert len(files) == 1 and f".{first['pid']}." in files[0].name
    images = logged_images(log_dir / "filters", "filters/0")
    assert [step for step, _ in images] == [0, 2, 4]  # each step once
    history = filterviz.load_history(log_dir)
    weights = np.load(f"{log_dir}-weights.npz")
    assert history.kernels.shape == (3, 3, 3, 1, 8)  # all 8 filters, though each process holds 4 (FSDP2)
    np.testing.assert_array_equal(history.kernels[0], weights["initial"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(history.kernels[-1], weights["final"].transpose(2, 3, 1, 0))
    for (_, grid), kernel in zip(images, history.kernels, strict=True):
        np.testing.assert_array_equal(grid, filterviz.kernel_grid(kernel))
