"""FilterLogger under tf.distribute: one grid per event from mirrored weights; only the chief writes.

Each case runs in its own process: logical devices and TF_CONFIG must be set before TensorFlow starts.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.helpers import logged_images

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's"
)

ROOT = Path(__file__).parents[2]

TRAIN = """
import json, os, sys
import numpy as np, tensorflow as tf, keras, filterviz

log_dir, kind = sys.argv[1], sys.argv[2]
if kind == "mirrored":
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

with strategy.scope():
    keras.utils.set_random_seed(0)
    layers = [keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3, name="conv"), keras.layers.Flatten(),
              keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.SGD(0.1), "mse")
rng = np.random.default_rng(0)
x, y = rng.random((64, 6, 6, 3), dtype=np.float32), rng.random((64, 2), dtype=np.float32)
logger = filterviz.FilterLogger(log_dir)

if kind == "mirrored":
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[logger])
else:
    # Keras 3's fit() fails under MultiWorkerMirroredStrategy (keras-team/keras#20585): train with a custom
    # loop, as its users do, and drive the callbacks through a CallbackList.
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    batches = iter(strategy.experimental_distribute_dataset(data))

    @tf.function
    def train_step(batch):
        def replica_step(inputs):
            features, targets = inputs
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(features, training=True) - targets) ** 2)
                loss = loss / strategy.num_replicas_in_sync
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        strategy.run(replica_step, args=(batch,))

    callbacks = keras.callbacks.CallbackList([logger], model=model, epochs=3, steps=4)
    callbacks.on_train_begin()
    for epoch in range(3):
        callbacks.on_epoch_begin(epoch)
        for step in range(4):
            callbacks.on_train_batch_begin(step)
            train_step(next(batches))
            callbacks.on_train_batch_end(step)
        callbacks.on_epoch_end(epoch)
    callbacks.on_train_end()

np.save(log_dir + "-final.npy", filterviz.render(model))
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "exists": os.path.exists(log_dir)}))
"""


def start(script, log_dir, kind, tf_config=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, str(script), str(log_dir), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def finish(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    return path


def test_mirrored_strategy_logs_one_grid_per_event_from_the_mirrored_weights(tmp_path, script):
    report = finish(start(script, tmp_path / "run", "mirrored"))
    assert report["replicas"] == 2
    logged = logged_images(tmp_path / "run" / "filters", "filters/conv")
    assert [step for step, _ in logged] == [0, 1, 2, 3]  # one grid per event, not one per replica
    np.testing.assert_array_equal(logged[-1][1], np.load(tmp_path / "run-final.npy"))


def free_port() -> int:
    """A port free now. TF_CONFIG must name the workers' ports before they start, so the port is released
    and bound again by the worker: another process may take it in between. The test then retries."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outcome(process, timeout=240):
    """(stdout, stderr) of a worker; one left waiting for a peer that never came is stopped."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


PORT_TAKEN = ("already in use", "Failed to add port", "Could not start gRPC server")


def test_multi_worker_only_the_chief_writes_and_its_log_is_complete(tmp_path, script):
    """Two worker processes on 127.0.0.1 train together; worker 0 is the chief."""
    for attempt in range(3):
        workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
        folder = tmp_path / f"attempt{attempt}"
        processes = [
            start(
                script,
                folder / f"worker{i}",
                "multi-worker",
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}},
            )
            for i in range(2)
        ]
        folder.mkdir()
        outcomes = [outcome(process) for process in processes]
        if not any(any(text in err for text in PORT_TAKEN) for _, err in outcomes):
            break
    for process, (_, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err[-3000:]
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out, _ in outcomes)
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["exists"] and not other["exists"]  # the other worker made no folder, wrote no file
    logged = logged_images(folder / "worker0" / "filters", "filters/conv")
    assert [step for step, _ in logged] == [0, 1, 2, 3]
    np.testing.assert_array_equal(logged[-1][1], np.load(folder / "worker0-final.npy"))
