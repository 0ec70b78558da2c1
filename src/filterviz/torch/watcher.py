"""`Watcher`: one training's logging of a torch model's first layer, whatever drives the training.

The front ends (`watch` for a plain loop, the Lightning and Hugging Face callbacks) tell a Watcher two
things: an optimizer step is about to run (`step_begins`), and one has run (`step_ends`), with the number
of optimizer steps done. The Watcher does the rest the way FilterLogger does for Keras:

* it chooses the layers at the end of the first forward pass (filterviz.torch.choice.FirstForward), and
  logs the state they are in then, before any update, at the step training starts from (0, or where a
  resumed training is);
* a step is logged when the steps done reach a multiple of `every_n_steps`; the state at the end is
  logged by `close()` unless it was just logged; steps only grow;
* before a step that will be logged, it copies the weights for the update ratio of that step;
* the training thread only copies weights (`kernels.copy_weight`); their move into Keras' layout,
  rendering, health and writing happen on the writer thread (filterviz.pipeline);
* with several processes, only the one that writes (rank 0) renders and writes; the others take their
  copies too only when a weight is sharded, since gathering it is a collective all of them join.

A failure after training has started never stops it: it is told once as a FilterVizWarning, and what was
written before stays.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from filterviz.core.options import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.core.step import LoggedStep
from filterviz.core.warning import FilterVizWarning
from filterviz.eventfile.format import layer_tags
from filterviz.pipeline.destinations import Destinations
from filterviz.pipeline.notices import Notices
from filterviz.pipeline.steps import LayerLog, StoreKernel, check_arguments, log_snapshot
from filterviz.pipeline.worker import BackgroundLogger, Discard, Snapshot
from filterviz.torch import choice
from filterviz.torch.kernels import TorchKind, copy_weight, host_array, keras_layout, keras_shape, torch_kind

AXIS = "batch"  # steps count optimizer steps
INPUT = "the model's input"


def render_options(**options: Any) -> RenderOptions:
    """Rendering options, as filterviz.torch reads them: a tile_shape given without flatten_order is read
    channels first, the order nn.Flatten leaves an (N, C, H, W) batch in."""
    if "tile_shape" in options and options.get("tile_shape") is not None and "flatten_order" not in options:
        options["flatten_order"] = "chw"
    return RenderOptions.from_kwargs(**options)


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the user chose for a training's logging (a front end's arguments), checked as given, before
    training starts.

    Attributes:
        layer: None for the first layer the input reaches, a module path or module, a list of them, "all".
        every_n_steps: log when the optimizer steps done reach a multiple of this; None: only the first
            and last states (and what `Watcher.log_now` asks for).
        log_initial: log the state before training.
        health, store_kernel, log_delta: as for FilterLogger.
        options: the rendering options.
    """

    layer: choice.LayerChoice = None
    every_n_steps: int | None = 100
    log_initial: bool = True
    health: bool = True
    store_kernel: StoreKernel = "auto"
    log_delta: bool = False
    options: RenderOptions = dataclasses.field(default_factory=RenderOptions)

    @classmethod
    def checked(
        cls,
        layer: choice.LayerChoice,
        every_n_steps: int | None,
        log_initial: bool,
        health: bool,
        store_kernel: StoreKernel,
        log_delta: bool,
        **options: Any,
    ) -> Choices:
        """The choices, or a clear error naming the one that cannot be taken."""
        choice.check_layer_choice(layer)
        check_arguments(every_n_steps, log_initial, health, log_delta, store_kernel)
        options = render_options(**options)
        return cls(layer, every_n_steps, log_initial, health, store_kernel, log_delta, options)


def renderer_of(
    chosen: choice.Chosen,
    options: RenderOptions,
    calls: list[choice.Chosen] | None = None,
    input_shape: tuple[int, ...] | None = None,
    quiet: bool = False,
) -> Renderer:
    """A renderer for a chosen module; a Linear layer's tiles take the shape of the image behind its
    inputs when the forward pass showed one."""
    module = chosen.module
    kind = torch_kind(module)
    inferred = None if calls is None else choice.image_behind(module, calls, input_shape)
    flat = options.tile_shape is None and inferred is None
    return Renderer(
        keras_shape(module),
        options,
        kind=kind.kind,
        inferred_tile_shape=inferred,
        name=f"layer {chosen.path!r}",
        note=kind.note,
        flat_hint=choice.flat_hint(module, calls, input_shape) if flat else "",
        quiet=quiet,
    )


class Watcher:
    """Logs a torch model's layers as it trains, told of its optimizer steps by a front end.

    Args:
        model: the model (a DistributedDataParallel or FSDP wrapper is looked through).
        destinations: where the steps go, checked already.
        choices: what to log and how, checked already.
        owner: the front end, for messages.
        writes: this process writes (the only one, or rank 0 of several).
        step: the optimizer steps done before this training (a resumed one).
    """

    def __init__(
        self,
        model: nn.Module,
        destinations: Destinations | None,
        choices: Choices,
        *,
        owner: str,
        writes: bool = True,
        step: int = 0,
    ) -> None:
        self.model = choice.check_model(model, owner)
        self.owner = owner
        self.choices = choices
        self.step = step
        self.writes = writes
        self._explicit = choice.resolve(self.model, choices.layer)
        for chosen in self._explicit or ():
            renderer_of(chosen, choices.options, quiet=True)  # an option the layer cannot take: an error now
        self._notices = Notices(owner)
        self._notices.training_begins()
        self._logs: list[LayerLog] = []
        self._modules: list[nn.Module] = []
        self._kinds: list[TorchKind] = []
        self._before: tuple | None = None
        self._last_logged: int | None = None
        self._gathers = False  # a weight is sharded: every process joins in copying it
        self._background: BackgroundLogger | Discard | None = (
            BackgroundLogger(self._process, destinations.open(AXIS, self._notices.notice), self._notices)
            if writes
            else Discard()
        )
        self._hooks: list = []
        self._first = choice.FirstForward(self.model, self._first_forward_done)

    @property
    def tags(self) -> list[str]:
        """`filters/<layer>` of each layer logged (empty until the first forward pass)."""
        return [log.tag for log in self._logs]

    # What the front ends call.

    def step_begins(self, done: int) -> None:
        """The optimizer step after `done` steps is about to update the weights."""
        if self._logs and self.choices.health and self._due(done + 1):
            self._safely(self._keep_before)

    def step_ends(self, done: int) -> None:
        """`done` optimizer steps are done."""
        self.step = done
        if self._logs and self._due(done):
            self._safely(self._log, done)
        self._before = None

    def log_now(self, done: int) -> None:
        """Log the state after `done` steps now (an epoch's end, say), unless it was logged already."""
        self.step = done
        if self._logs and (self._last_logged is None or done > self._last_logged):
            self._safely(self._log, done)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every grid logged so far is written (True), or `timeout` seconds (False)."""
        done = self._background is None or self._background.wait(timeout)
        self.report()
        return done

    def close(self) -> None:
        """Log the state at the end (unless it was just logged), write everything and stop. Called twice,
        the second call does nothing."""
        self._first.close()
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        if self._background is None:
            return
        try:
            if self._logs and (self._last_logged is None or self.step > self._last_logged):
                self._safely(self._log, self.step)
        finally:
            background, self._background = self._background, None
            background.close()
            self._notices.training_ends()
            self.report()

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Count `optimizer`'s steps: its step hooks tell this watcher of every step (removed by close)."""
        self._hooks = [
            optimizer.register_step_pre_hook(lambda *_: self.step_begins(self.step)),
            optimizer.register_step_post_hook(lambda *_: self.step_ends(self.step + 1)),
        ]

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def report(self) -> None:
        """Warnings for what happened on the writer thread, raised on the training thread."""
        for message in self._notices.take():
            warnings.warn(message, FilterVizWarning, stacklevel=3)

    # The training thread's part.

    def _first_forward_done(self, calls: list[choice.Chosen], input_shape: tuple[int, ...] | None) -> None:
        try:
            chosen = self._choose(calls)
            self._logs = self._layer_logs(chosen, calls, input_shape)
        except choice.NoLayerToDraw as error:
            self._stop(f"{self.owner} logs nothing in this training: {error}")
            return
        except Exception as error:  # never stop a training that has started
            self._stop(f"{self.owner} logs nothing in this training: {type(error).__name__}: {error}")
            return
        self._modules = [entry.module for entry in chosen]
        self._kinds = [torch_kind(module) for module in self._modules]
        self._gathers = any(hasattr(module.weight, "full_tensor") for module in self._modules)
        self._notices.tag = ", ".join(self.tags)
        if self.choices.log_initial:
            self._safely(self._log, self.step)

    def _choose(self, calls: list[choice.Chosen]) -> list[choice.Chosen]:
        if self._explicit is not None:
            for entry in self._explicit:
                if choice.is_frozen(entry.module):
                    self._tell(
                        f"{self.owner}: layer {entry.path!r} is frozen (requires_grad=False): its update "
                        "ratio and drift will be 0 and its grid will not change. Pass the layer you train, "
                        "if you meant another."
                    )
            return self._explicit
        if self.choices.layer == "all":
            return choice.all_layers(calls)
        chosen = choice.first_layer(calls, INPUT)
        if chosen.passed_over_frozen:
            self._tell(f"{self.owner} draws {chosen.path!r}: {chosen.note}. Pass layer= to choose another.")
        return [chosen]

    def _layer_logs(self, chosen, calls, input_shape) -> list[LayerLog]:
        paths = [entry.path for entry in chosen]
        return [
            LayerLog(
                renderer_of(entry, self.choices.options, calls, input_shape),
                tag,
                AXIS,
                path=entry.path,
                health=self.choices.health,
                store_kernel=self.choices.store_kernel,
                log_delta=self.choices.log_delta,
                choice=entry.note,
            )
            for entry, tag in zip(chosen, layer_tags(paths, paths), strict=True)
        ]

    def _due(self, step: int) -> bool:
        n = self.choices.every_n_steps
        return n is not None and step % n == 0 and (self._last_logged is None or step > self._last_logged)

    def _keep_before(self) -> None:
        if self.writes or self._gathers:
            self._before = self._copies()

    def _log(self, step: int) -> None:
        before, self._before = self._before, None
        self._last_logged = step
        if not (self.writes or self._gathers):
            return  # another process writes, and copying these weights needs no one here
        self._background.submit(Snapshot(step, self._copies(), before, batches=step))
        self.report()

    def _copies(self) -> tuple:
        return tuple(copy_weight(module) for module in self._modules)

    def _safely(self, work, *args) -> None:
        """Run the training thread's part of logging; a failure stops logging, never the training."""
        try:
            work(*args)
        except Exception as error:
            self._stop(
                f"{self.owner} stopped logging at step {self.step}: {type(error).__name__}: {error}. "
                "Training goes on; the images written before are kept."
            )

    def _stop(self, message: str) -> None:
        self._logs, self._modules = [], []
        self._tell(message)

    def _tell(self, message: str) -> None:
        warnings.warn(message, FilterVizWarning, stacklevel=5)

    # The writer thread's part.

    def _process(self, job: Snapshot, shed: int = 0) -> list[LoggedStep]:
        """On the writer thread: the copies moved into Keras' layout, then drawn as for Keras."""
        kinds = self._kinds

        def layout(copies: tuple | None) -> tuple | None:
            if copies is None:
                return None
            pairs = zip(copies, kinds, strict=True)
            return tuple(np.ascontiguousarray(keras_layout(host_array(copy), kind)) for copy, kind in pairs)

        job = dataclasses.replace(job, kernels=layout(job.kernels), before=layout(job.before))
        return log_snapshot(self._logs, job, shed, self._notices)


def optimizer_steps(optimizer: torch.optim.Optimizer) -> int:
    """The steps an optimizer has taken, where its state counts them (Adam, AdamW, RMSprop... keep a
    `step` per parameter; plain SGD keeps none: 0)."""
    steps = [state.get("step") for state in optimizer.state.values() if isinstance(state, dict)]
    counted = [int(step) for step in steps if step is not None]
    return max(counted, default=0)


def rank_zero() -> bool:
    """Whether this process writes: the only one, or rank 0 of torch.distributed."""
    distributed = torch.distributed
    return not (distributed.is_available() and distributed.is_initialized()) or distributed.get_rank() == 0
