"""FilterLogger: a Keras callback that logs the first layer's filter grid while the model trains."""

from __future__ import annotations

import os
import warnings
from typing import Any

import keras
import numpy as np

from filterviz.core import validate
from filterviz.core.options import RenderOptions
from filterviz.core.step import LoggedStep
from filterviz.core.warning import FilterVizWarning
from filterviz.eventfile.format import RUN_NAME, layer_tags
from filterviz.eventfile.index import LogIndex
from filterviz.keras import choice, kernels
from filterviz.keras.dataflow import Found
from filterviz.keras.first_step import FirstStep
from filterviz.keras.rendering import renderer_of
from filterviz.keras.schedule import Schedule
from filterviz.pipeline.destinations import Destinations
from filterviz.pipeline.notices import Notices
from filterviz.pipeline.steps import COUNT, LayerLog, StoreKernel, check_arguments, log_snapshot
from filterviz.pipeline.worker import BackgroundLogger, Discard, Snapshot


class FilterLogger(keras.callbacks.Callback):
    """Logs a grid of a layer's filters to TensorBoard, Weights & Biases and/or MLflow as the model trains.

    Each logged step renders the layer's kernel with filterviz (one tile per unit or filter, see
    `filterviz.render`) and writes it as an image summary under the tag `filters/<layer name>`, in its own
    run directory `<log_dir>/filters`, so that `keras.callbacks.TensorBoard` can share the same log_dir.
    TensorBoard's Images tab then shows one card per layer with a slider over the steps.

    With `wandb=True` (or a run) the same grids go to the W&B run as `wandb.Image`s under the same tag,
    each in its own row with the step under the key `filterviz/epoch` (or `filterviz/batch`), declared as
    the tag's x axis with `define_metric`; it never passes `step=`, so it works next to
    `WandbMetricsLogger` in either order without moving or losing a row.

    With `mlflow=True` (or a run, or a run id) the same grids go to the MLflow run as step images under
    the key `filters/<layer>` (the run page's image panel shows them on a step slider) and the health values
    as metrics `filters/<layer>/<name>`, at the same steps, beside `mlflow.keras.MlflowCallback` or autolog.

    Steps: the initial weights at step 0 (`log_initial`), then the state after every `every_n_epochs`-th
    epoch at step = epochs completed. With `every_n_steps`, step = batches completed (counted across epochs)
    for every image, and images are logged every `every_n_steps` batches instead. The state at the end of
    training is logged too, unless the schedule just logged it. Steps only grow: a second `fit()`, and a
    training resumed with `initial_epoch` or a restored optimizer, continue the count. On such a resumed
    training the state it starts from is logged at the step the optimizer is at, unless that step already
    has a grid in the log directory (the end of the training before, logged by this or another logger).

    The training thread only copies the kernel; rendering, PNG encoding and writing happen on a worker
    thread. If the worker falls behind, the oldest waiting copy is dropped (a FilterVizWarning says which
    steps), so training never waits for it. Every grid of an epoch is written before the next epoch starts
    and before `fit()` returns; after an interruption, call `flush()` (or let the script end) for the last.

    The layer and the log directory are checked at the start of training, before the first batch. A write
    that fails later (a full disk, say) never stops training: it is reported once with a FilterVizWarning,
    and what was written before stays readable. The callback never changes weights or random state. When
    training runs on several processes (jax under keras.distribution, torch.distributed, a TensorFlow
    multi-worker strategy), only the first process (the chief) renders and writes.

    `log_dir` may be a URL of an object store (`s3://bucket/logs/run1`, `gs://...`, any scheme fsspec
    serves): each batch of steps goes there as a new event file, from a local spool that keeps the steps a
    failing store has not taken (README, "Logging to object storage").

    Beside each grid it logs the layer's health (README, "Is my first layer healthy?"): the update/weight
    ratio of the optimizer step that ends at the logged step, the drift from the first state logged, and
    the shares of dead, noisy and duplicate filters, as scalars `filters/<layer>/<name>` (W&B: the same keys
    in the image's row); per-filter values and, when small, the kernel itself go to the Filters tab.

    Tip: TensorBoard shows only 10 steps per image tag by default; start it with
    `tensorboard --logdir LOG_DIR --samples_per_plugin images=100` to see them all.

    Args:
        log_dir: the TensorBoard log directory (the one you give `tensorboard --logdir`, or a run inside it):
            a folder, or the URL of an object store such as `s3://bucket/logs/run1`.
        wandb: True to log to the active W&B run (`wandb.run` when training starts), or a run object.
        layer: None for the first layer with a kernel filterviz draws; a layer name, path or object; a list
            of those to log several layers; or "all" (README, "Which layer").
        every_n_epochs: log after every N-th epoch.
        every_n_steps: log every N batches instead, with the step counting batches.
        log_initial: log the weights before training starts: at step 0, or where the optimizer has run
            before, at its step (unless the log directory has a grid at that step already).
        health: log the health values beside each grid.
        store_kernel: keep the float32 kernel with each step, for the Filters tab: True, False, or "auto"
            (when it is at most 1 MiB).
        log_delta: also log a grid of the change since the step logged before, `filters/<layer>/delta`
            (symmetric normalization: the filters that are learning stand out).
        mlflow: True to log to the active MLflow run (`mlflow.active_run()` when training starts), a run
            id, or a run object.
        **options: rendering options, as for `filterviz.render`: normalize, clip_percentile, cmap, ncols,
            padding, scale, max_tiles, tile_shape, flatten_order, bgr.

    Example:
        >>> import keras, numpy as np, filterviz
        >>> from pathlib import Path
        >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        >>> model.compile("sgd", "mse")
        >>> history = model.fit(np.zeros((8, 8, 8, 1)), np.zeros((8, 4)), epochs=2, verbose=0,
        ...                     callbacks=[filterviz.FilterLogger("logs/example")])
        >>> sorted(p.name for p in Path("logs/example").iterdir())
        ['filters']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        *,
        wandb: bool | Any = False,
        layer: choice.LayerChoice = None,
        every_n_epochs: int = 1,
        every_n_steps: int | None = None,
        log_initial: bool = True,
        health: bool = True,
        store_kernel: StoreKernel = "auto",
        log_delta: bool = False,
        mlflow: bool | str | Any = False,
        **options: Any,
    ) -> None:
        super().__init__()
        self.destinations = Destinations("FilterLogger", log_dir, wandb, mlflow)
        validate.integer("every_n_epochs", every_n_epochs, minimum=1, accepts=COUNT)
        check_arguments(every_n_steps, log_initial, health, log_delta, store_kernel)
        choice.check_layer_choice(layer)
        for name, value in (("log_initial", log_initial), ("health", health), ("log_delta", log_delta)):
            validate.boolean(name, value)
        self._store = self.destinations.store
        self.log_dir = self.destinations.log_dir
        self.wandb, self.mlflow = wandb, mlflow
        self.layer = layer
        self.options = RenderOptions.from_kwargs(**options)
        self.schedule = Schedule(every_n_epochs, every_n_steps, log_initial)
        self.health, self.store_kernel, self.log_delta = health, store_kernel, log_delta
        self._background: BackgroundLogger | Discard | None = None
        self._notices: Notices | None = None  # made with the renderer, when training begins
        self._in_fit = False
        self._epoch = 0
        self._last_batch = -1
        self._before: tuple[np.ndarray, ...] | None = None  # the kernels before the batch whose end is logged
        self._late: tuple[int, tuple[np.ndarray, ...]] | None = None  # a logged step whose ratio is still due
        self._first_step: FirstStep | None = None  # while the layer is chosen by the first training step
        self._logs: list[LayerLog] = []
        self._targets: list[keras.layers.Layer] = []

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every grid logged so far is written (True), or `timeout` seconds (False).

        Only needed after an interruption, in the same process: fit() waits for its grids, and at exit
        the interpreter waits too.
        """
        done = self._background is None or self._background.wait(timeout)
        self._report()
        return done

    # Keras hooks: each asks the schedule whether to log now, and at which step.

    def on_train_begin(self, logs=None):
        self._stop_background()  # a fit that was interrupted left its writer open
        self._in_fit = False
        self._last_batch = -1
        self._before = self._late = None
        self._logs, self._targets = [], []
        try:
            found = self._choose_layers()
        except choice.NotReadyYet:  # chosen once the first training step has run
            found, self._first_step = None, FirstStep(self.model)
        except Exception as error:
            if self.layer is not None and isinstance(error, ValueError | TypeError):
                raise  # a layer= that names nothing: an error before the first batch
            # The layer filterviz would choose itself cannot be drawn, or choosing it failed: training
            # goes on, as it would without FilterLogger.
            self._tell(f"FilterLogger logs nothing in this training: {error}")
            return
        if self._notices is None:
            self._notices = Notices("FilterLogger")
        self._notices.training_begins()
        if writes_logs(self.model):
            self._background = BackgroundLogger(
                self._process, self.destinations.open(self.schedule.axis, self._notices.notice), self._notices
            )
        else:  # another host of the same training writes; this one only joins the kernels' reading
            self._background = Discard()
        if found is not None:
            self._start_logs(found)

    def _choose_layers(self, calls: list[int] | None = None) -> list[Found]:
        """The layers to log; raises NotReadyYet before the first step when they cannot be told yet, and
        warns (once per training) of frozen ones."""
        model = self.model
        trained = choice.optimizer_variables(model) or frozenset()
        found = choice.find_layers(model, self.layer, calls=calls, trained=trained, traced_only=calls is None)
        for entry in found:
            if entry.passed_over_frozen:
                self._tell(f"FilterLogger draws {entry.path!r}: {entry.note}. Pass layer= to choose another.")
            elif self.layer is not None and choice.is_frozen(entry.layer, trained):
                self._tell(f"FilterLogger: {choice.frozen_warning(entry)}")
        return found

    def _start_logs(self, found: list[Found]) -> None:
        self._targets = [entry.layer for entry in found]
        tags = layer_tags([entry.layer.name for entry in found], [entry.path for entry in found])
        self._logs = [
            LayerLog(
                renderer_of(entry, self.options, model=self.model),
                tag,
                self.schedule.axis,
                path=entry.path,
                health=self.health,
                store_kernel=self.store_kernel,
                log_delta=self.log_delta,
                choice=entry.note,
            )
            for entry, tag in zip(found, tags, strict=True)
        ]
        self._notices.tag = ", ".join(tags)

    def _finish_first_step(self) -> None:
        """After the first training step: choose the layers from the order it called them, and log the
        initial state kept before it (or say in the first logged step why there is none)."""
        first_step, self._first_step = self._first_step, None
        calls = first_step.calls()
        try:
            found = self._choose_layers(calls)
        except Exception as error:  # never stop a training that has started: say it, log nothing
            self._tell(f"FilterLogger logs nothing in this training: {error}")
            self._stop_background()
            return
        self._start_logs(found)
        step, initial, missing = first_step.initial(self._targets)
        if initial is not None and self._background is not None:
            self._background.submit(Snapshot(step, tuple(map(LayerLog.snapshot, self._logs, initial))))
        elif missing:
            for log in self._logs:
                log.missing_initial = missing

    def on_epoch_begin(self, epoch, logs=None):
        if not self._in_fit:  # the first epoch of this fit(): Keras tells its index only now
            self._in_fit = True
            batches_before, epochs_before = self._trained_before(epoch)
            step = self.schedule.fit_begins(epoch, batches_before, epochs_before)
            if step is not None and (batches_before or epoch) and self._logged_in_log_dir(step):
                step = None  # an earlier training wrote this state at this step already
            self._log(step)
        elif self._background is not None:
            self._background.wait()  # every grid of the epochs before is on disk before this one runs
            self._report()
        self.schedule.epoch_begins()
        self._epoch = epoch
        self._last_batch = -1

    # Batches are counted as they begin, not as they end: a callback that overrides on_train_batch_end
    # makes Keras turn every batch's logs into Python numbers, waiting for each step to finish.

    def on_train_batch_begin(self, batch, logs=None):
        if self._first_step is not None and batch > 0:
            self._finish_first_step()
        if self._background is None:
            return
        if self._late is not None and batch > 0:
            self._measure_late_update()
        if self.schedule.by_steps:
            self._last_batch = batch
            self._log(self.schedule.batch_begins(batch))
        # Will the state after this batch be logged? Then copy the kernel now, for its update ratio.
        self._before = None
        if self._first_step is not None:
            return  # the first step: its layer is not chosen yet, so its update ratio is not measured
        if self.health and self.schedule.logs_after(batch, self._stride(), self._steps(), self._last_epoch()):
            self._before = self._snapshots()

    def on_epoch_end(self, epoch, logs=None):
        if self._first_step is not None:  # an epoch of one batch
            self._finish_first_step()
        if self._late is not None:  # an epoch of one batch
            self._measure_late_update()
        batches = self._steps() or self._last_batch + 1
        step = self.schedule.epoch_ends(epoch, batches)
        snapshots = self._log(step)
        if snapshots is not None and self.health and not self.schedule.by_steps and not self._steps():
            # Keras does not know the epoch's length, so its last batch could not be told in advance:
            # the first batch of the next epoch is measured instead.
            self._late = (step, snapshots)

    def on_train_end(self, logs=None):
        try:
            if self._first_step is not None:
                self._finish_first_step()
            self._late = None  # no batch follows to measure it by
            self._log(self.schedule.fit_ends())
        finally:
            self._stop_background()

    # The work, delegated: the training thread takes snapshots, the worker renders and writes them.

    def _log(self, step: int | None) -> tuple[np.ndarray, ...] | None:
        """Hand the kernels over for `step`, if there is one to log; returns the snapshots handed over. The
        copy taken before the last batch stays until a step is logged: at an epoch's end that logs nothing,
        it waits for the end of training or the next batch's step (every_n_steps across epochs)."""
        if step is None or self._background is None:
            return None
        before, self._before = self._before, None
        if self._first_step is not None:  # before the first step: keep the weights until a layer is chosen
            self._first_step.keep_initial(step)
            return None
        snapshots = self._snapshots()
        self._background.submit(Snapshot(step, snapshots, before, batches=self.schedule.batches_done))
        self._report()
        return snapshots

    def _logged_in_log_dir(self, step: int) -> bool:
        """Whether the log directory holds a grid of one of this logger's layers at `step` (written by an
        earlier training, with another FilterLogger): a resumed training's first state is logged only
        where it is not."""
        if self._store is None or not self._logs:
            return False
        tags = {log.tag for log in self._logs}
        try:
            index = LogIndex(self._store.join(RUN_NAME))
            index.update()
        except OSError:  # nothing there yet, or not readable: nothing to repeat
            return False
        return any(view.tag in tags and step in view.locations["grid"] for view in index.views().values())

    def _measure_late_update(self) -> None:
        step, before = self._late
        self._late = None
        self._background.submit(Snapshot(step, self._snapshots(), before, late=True))

    def _snapshots(self) -> tuple[np.ndarray, ...]:
        """Private copies of the kernels, of what each layer's log needs of them."""
        model = self.model  # under jax, getting it puts the trained weights back into the variables
        return tuple(
            log.snapshot(kernels.current_kernel(model, target))
            for log, target in zip(self._logs, self._targets, strict=True)
        )

    def _steps(self) -> int | None:
        """Batches per epoch, when Keras knows them."""
        return (self.params or {}).get("steps")

    def _stride(self) -> int:
        """Batches between two calls of on_train_batch_begin."""
        return int(getattr(self.model, "steps_per_execution", 1) or 1)

    def _last_epoch(self) -> bool:
        epochs = (self.params or {}).get("epochs")
        return epochs is not None and self._epoch + 1 >= epochs

    def _process(self, job: Snapshot, shed: int = 0) -> list[LoggedStep]:
        """On the worker thread: one logged step per layer, `shed` optional parts left out of each."""
        return log_snapshot(self._logs, job, shed, self._notices)

    def _report(self) -> None:
        """Warnings for what happened on the worker thread, raised here, on the training thread."""
        if self._notices is not None:
            for message in self._notices.take():
                warnings.warn(message, FilterVizWarning, stacklevel=3)

    def _tell(self, message: str) -> None:
        """A FilterVizWarning now, on the training thread."""
        warnings.warn(message, FilterVizWarning, stacklevel=4)

    def _stop_background(self) -> None:
        if self._first_step is not None:  # a fit interrupted before its first step ended
            self._first_step.close()
            self._first_step = None
        background = self._background
        if background is not None:
            background.close()
            self._notices.training_ends()
            self._report()
            self._background = None

    def _trained_before(self, initial_epoch: int) -> tuple[int, int]:
        """(batches, epochs) the model was trained for before this fit, from a restored optimizer's
        iteration count or from initial_epoch."""
        steps = self._steps()
        optimizer = getattr(self.model, "optimizer", None)
        batches = int(keras.ops.convert_to_numpy(optimizer.iterations)) if optimizer is not None else 0
        if steps:
            batches = max(batches, initial_epoch * steps)
        return batches, (batches // steps if steps else 0)


def writes_logs(model: keras.Model) -> bool:
    """Whether this process writes: the one process of a training, or one of many: process 0 of a jax
    training over several processes (keras.distribution), rank 0 of torch.distributed, the chief of a
    TensorFlow multi-worker strategy. The others render and write nothing, but take their snapshots at the
    same steps: reading a kernel sharded across processes is a collective every process joins."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if jax.process_count() > 1:
            return jax.process_index() == 0
    elif backend == "torch":
        import torch.distributed

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank() == 0
    strategy = getattr(model, "distribute_strategy", None)
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster
