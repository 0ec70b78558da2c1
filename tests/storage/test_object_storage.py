"""A log directory on an object store: a real fit writes to a real S3 API server (moto's server mode on
127.0.0.1), every step once, each batch of steps a new object that is never rewritten; load_history and
`filterviz animate` read the bucket; bad URLs fail before the first batch; a store that dies costs the
training nothing, and what it did not take is kept and counted."""

import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import filterviz
from filterviz.core.step import LoggedStep
from filterviz.eventfile.writer import ObjectWriter, TensorBoardWriter
from filterviz.storage.stores import StoreUnavailable, open_store
from tests.helpers import TAG, Batches, filterviz_cli, gif_frames, logged_images, tiny_data, tiny_model
from tests.helpers.s3_server import s3_server


def fit(*log_dirs, epochs=3, every_n_steps=None, callbacks=(), **options):
    """The tiny model trained with one FilterLogger per log directory; the warnings they gave."""
    model = tiny_model()
    x, y = tiny_data()
    loggers = [filterviz.FilterLogger(d, every_n_steps=every_n_steps, **options) for d in log_dirs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[*loggers, *callbacks])
    told = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
    return history, told


def steps_of(objects: dict[str, bytes], folder: Path) -> list[int]:
    """The steps of the grids in these objects, read as a run of TensorBoard's (in a new `folder`)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for key, data in objects.items():
        (folder / key.rsplit("/", 1)[1]).write_bytes(data)
    return [step for step, _ in logged_images(folder, TAG)]


def objects_as_run(s3, bucket, prefix, folder: Path) -> dict[str, bytes]:
    """The bucket's objects under `prefix`, copied into `folder` under their own names (to read them as
    TensorBoard reads a run: its files in name order)."""
    objects = s3.objects(bucket, prefix)
    folder.mkdir(parents=True)
    for key, data in objects.items():
        (folder / key.rsplit("/", 1)[1]).write_bytes(data)
    return objects


def test_a_fit_puts_every_step_in_the_bucket_once(s3, bucket, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit(f"s3://{bucket}/fv", tmp_path / "local", every_n_steps=3)

    objects = objects_as_run(s3, bucket, "fv/filters/", tmp_path / "copy")
    local = logged_images(tmp_path / "local" / "filters", TAG)
    remote = logged_images(tmp_path / "copy", TAG)
    assert [step for step, _ in remote] == [step for step, _ in local] == [0, 3, 6, 9, 12]
    for (_, expected), (_, got) in zip(local, remote, strict=True):
        np.testing.assert_array_equal(got, expected)
    names = list(objects)
    assert all("tfevents" in name for name in names)
    assert len(names) == len(set(names)) >= 2  # the header alone, then the steps
    assert not any(Path(tmp_path).glob("s3*")), "a local folder named after the scheme"


def test_objects_are_put_once_each_and_never_rewritten(s3, bucket, proxy):
    fit(f"s3://{bucket}/fv", every_n_steps=1)

    puts = [line.split()[1] for line in proxy.requests if line.startswith("PUT ")]
    assert len(puts) == len(set(puts)) == len(s3.objects(bucket, "fv/filters/"))
    assert not [line for line in proxy.requests if line.split()[0] in ("POST", "DELETE")]
    steps = [step for step, _ in read_bucket_steps(s3, bucket)]
    assert steps == sorted(set(steps)) == list(range(13))


def read_bucket_steps(s3, bucket, prefix="fv/filters/"):
    """(step, grid) of every grid in the bucket's objects, object after object in name order."""
    from filterviz.core.png import decode_png
    from filterviz.eventfile.index import LogIndex, read_png

    index = LogIndex(open_store(f"s3://{bucket}/{prefix.split('/')[0]}"))
    index.update()
    (view,) = index.with_grids()
    return [(step, decode_png(read_png(view.locations["grid"][step], view.tag))) for step in view.steps]


def synthetic_steps(count: int, side: int = 150):
    """Logged steps whose grids are noise (PNG does not shrink them): about 68 kB an event."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    return [LoggedStep(TAG, step, "batch", np.roll(image, step), "noise", True) for step in range(count)]


@pytest.mark.parametrize("count", [10, 100])
def test_bytes_sent_per_step_stay_close_to_its_event_bytes_however_long_the_run(
    count, bucket, proxy, tmp_path
):
    steps = synthetic_steps(count)
    local = TensorBoardWriter(tmp_path)
    header = local.path.stat().st_size
    for step in steps:
        local.write(step)
    event_bytes = local.path.stat().st_size - header

    proxy.reset_counts()
    writer = ObjectWriter(open_store(f"s3://{bucket}/fv"), "filters")
    for step in steps:
        writer.write(step)
    writer.close()

    assert proxy.sent / event_bytes <= 1.1, f"{proxy.sent} bytes sent for {event_bytes} bytes of events"
    assert proxy.sent >= event_bytes


def test_load_history_and_animate_read_the_bucket(s3, bucket, tmp_path):
    fit(f"s3://{bucket}/fv", tmp_path / "local", epochs=4, log_delta=True)

    remote, local = filterviz.load_history(f"s3://{bucket}/fv"), filterviz.load_history(tmp_path / "local")
    np.testing.assert_array_equal(remote.steps, local.steps)
    assert remote.steps.tolist() == [0, 1, 2, 3, 4]
    for got, expected in zip(remote.grids, local.grids, strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(remote.kernels, local.kernels)
    for name, values in local.health.items():
        np.testing.assert_array_equal(remote.health[name], values)

    result = filterviz_cli("animate", f"s3://{bucket}/fv", "-o", tmp_path / "remote.gif")  # env: the server
    assert result.returncode == 0, result.stderr
    filterviz_cli("animate", tmp_path / "local", "-o", tmp_path / "local.gif")
    remote_frames, _ = gif_frames(tmp_path / "remote.gif")
    local_frames, _ = gif_frames(tmp_path / "local.gif")
    assert len(remote_frames) == 5
    for got, expected in zip(remote_frames, local_frames, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_an_unknown_scheme_or_a_missing_package_fails_when_the_logger_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="no file system serves the scheme 'nosuch'"):
        filterviz.FilterLogger("nosuch://bucket/logs")
    with pytest.raises(ImportError, match="needs adlfs"):  # Azure's fsspec package is not installed here
        filterviz.FilterLogger("az://container/logs")
    with pytest.raises(ValueError, match="no file system serves"):
        filterviz.load_history("nosuch://bucket/logs")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("problem", ["missing bucket", "no credentials"])
def test_an_unreachable_store_fails_before_the_first_batch(problem, s3, bucket, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    url = f"s3://{bucket}/fv"
    if problem == "missing bucket":
        url, expected = "s3://no-such-bucket/fv", "Does the bucket exist"
    else:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        expected = "Check AWS credentials"
    batches = Batches()
    model = tiny_model()
    x, y = tiny_data()
    with pytest.raises(StoreUnavailable, match=expected) as raised:
        model.fit(x, y, epochs=2, verbose=0, callbacks=[filterviz.FilterLogger(url), batches])
    assert url in str(raised.value)
    assert batches.count == 0
    assert list(tmp_path.iterdir()) == []


class Then(keras.callbacks.Callback):
    """Calls `action` as epoch `epoch` begins."""

    def __init__(self, epoch, action):
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.action()


def test_a_store_killed_mid_training_loses_the_training_nothing(tmp_path, monkeypatch):
    with s3_server() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        bucket = server.make_bucket("killed")
        seen = {}

        def kill():  # once the steps of the first three epochs are on the server
            for _ in range(300):
                seen.clear()
                seen.update(server.objects(bucket))
                if len(steps_of(seen, tmp_path / "seen")) == 4:
                    break
                time.sleep(0.1)
            server.kill()

        history, told = fit(
            f"s3://{bucket}/fv", tmp_path / "local", epochs=6, callbacks=[Then(3, kill)], store_kernel=False
        )
    assert len(history.history["loss"]) == 6
    failures = [message for message in told if "putting steps on" in message]
    summaries = [message for message in told if "not every step reached" in message]
    # The failure is told when a put fails (boto's own retries take about 10 s): here training ends first,
    # and the summary alone says what happened.
    assert len(failures) <= 1 and len(summaries) == 1 and len(told) == len(failures) + 1, told
    spool = Path(summaries[0].split(" are kept in ")[1].split(" as complete")[0])
    kept = sorted(spool.iterdir())
    assert kept and all("tfevents" in path.name for path in kept)

    sent = steps_of(seen, tmp_path / "sent")
    spooled = [step for step, _ in logged_images(spool, TAG)]
    assert sent + spooled == [0, 1, 2, 3, 4, 5, 6], (sent, spooled)
    assert f"{len(spooled)} logged steps" in summaries[0]
    local = dict(logged_images(tmp_path / "local" / "filters", TAG))
    for step, grid in logged_images(spool, TAG):
        np.testing.assert_array_equal(grid, local[step])


def test_a_store_that_comes_back_gets_every_step_once(s3, bucket, proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # boto's own retries would ride out a short outage

    def back():
        time.sleep(2)  # the steps of epochs 1 and 2 fail to go out, at least once
        proxy.restore()
        for _ in range(600):  # the steps that waited go out while training goes on
            if len(read_bucket_steps(s3, bucket)) >= 3:
                return
            time.sleep(0.1)

    _, told = fit(
        f"s3://{bucket}/fv", epochs=5, callbacks=[Then(1, proxy.cut), Then(3, back)], store_kernel=False
    )
    steps = [step for step, _ in read_bucket_steps(s3, bucket)]
    assert steps == [0, 1, 2, 3, 4, 5]
    assert sum("putting steps on" in message for message in told) == 1, told
    assert sum("was sent in the end" in message for message in told) == 1 and len(told) == 2, told


def test_the_index_reads_each_object_once_and_then_only_new_ones(s3, bucket, proxy):
    from filterviz.eventfile.index import LogIndex

    url = f"s3://{bucket}/fv"
    fit(url, epochs=2)
    index = LogIndex(url)

    def objects_read():
        gets = [line.split()[1] for line in proxy.requests if line.startswith("GET ")]
        return sorted({path.split("?")[0] for path in gets if "tfevents" in path})

    proxy.reset_counts()
    index.update()
    first = objects_read()
    assert len(first) == len(s3.objects(bucket, "fv/filters/"))
    assert index.with_grids()[0].steps == (0, 1, 2)

    proxy.reset_counts()
    index.update()
    assert objects_read() == []  # a listing, and nothing read again

    fit(url, epochs=2)  # a second training of a new model: its steps again, in new objects
    proxy.reset_counts()
    index.update()
    second = objects_read()
    assert second and not set(second) & set(first)
    assert index.with_grids()[0].steps == (0, 1, 2)
