"""`watch`: filterviz for a plain PyTorch training loop, hooked on the optimizer's steps."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from filterviz.core import validate
from filterviz.pipeline.destinations import Destinations
from filterviz.pipeline.steps import COUNT, StoreKernel
from filterviz.torch import choice
from filterviz.torch.watcher import Choices, Watcher, optimizer_steps, rank_zero

OWNER = "filterviz.torch.watch"


def watch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    log_dir: str | os.PathLike[str] | None = None,
    *,
    wandb: bool | Any = False,
    mlflow: bool | str | Any = False,
    layer: choice.LayerChoice = None,
    every_n_steps: int = 100,
    log_initial: bool = True,
    health: bool = True,
    store_kernel: StoreKernel = "auto",
    log_delta: bool = False,
    **options: Any,
) -> Watcher:
    """Log a grid of a torch model's first layer to TensorBoard, W&B and/or MLflow as it trains.

    Nothing to call inside the loop: filterviz hooks the optimizer's step. The step of a grid is the number
    of optimizer steps done (`optimizer.step()` calls, or the step count a restored Adam-like optimizer
    keeps); the weights before training are logged at that step (0) at the end of the first forward pass,
    then every `every_n_steps` steps, and the state at the end when the returned watcher is closed (or its
    `with` block ends). Grids go to `<log_dir>/filters` as `filterviz.FilterLogger` writes them for Keras,
    beside `torch.utils.tensorboard.SummaryWriter`'s event files in the same log directory; the Filters
    tab, `load_history` and `filterviz animate` read them unchanged.

    The layer is the first Linear or convolution (1D, 2D, 3D; grouped, depthwise, transposed) that a
    forward pass calls, frozen ones passed over; filterviz draws its weight in the same tiles as Keras'
    layer of the same weights: one tile per output unit or filter, a Linear layer's inputs shown as the
    image they were flattened from (channels first, as nn.Flatten leaves an (N, C, H, W) batch).

    The training thread copies the weight (from a GPU, into pinned memory without waiting); rendering,
    health values and writing happen on a writer thread. With torch.distributed, only rank 0 writes; a
    weight sharded across processes (a DTensor, as FSDP2 makes) is gathered whole at the logged steps on
    every rank.

    Args:
        model: the model (or its DistributedDataParallel / FSDP wrapper).
        optimizer: the optimizer that trains it.
        log_dir: a TensorBoard log directory (a folder or an object store's URL, such as s3://b/logs/run1).
        wandb: True for the active W&B run (`wandb.run` now), or a run.
        mlflow: True for the active MLflow run, a run id, or a run.
        layer: None for the first layer the input reaches; a module path ("patch_embed.proj") or its
            unambiguous end ("proj"), a module, a list of them, or "all".
        every_n_steps: log every N optimizer steps.
        log_initial: log the weights before training.
        health: log the health values beside each grid (README, "Is my first layer healthy?").
        store_kernel: keep the float32 kernel with each step for the Filters tab: True, False or "auto"
            (when it is at most 1 MiB).
        log_delta: also log the change since the step logged before, `filters/<layer>/delta`.
        **options: rendering options, as for `filterviz.render`: normalize, clip_percentile, cmap, ncols,
            padding, scale, max_tiles, tile_shape, flatten_order (here "chw" when tile_shape is given), bgr.

    Returns:
        The `Watcher`: call `close()` (or use it in a `with` block) when training ends, to log the final
        state and wait for every grid to be written.

    Example:
        >>> import torch, filterviz.torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5), torch.nn.Flatten(), torch.nn.LazyLinear(2))
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> with filterviz.torch.watch(model, optimizer, "logs/torch", every_n_steps=2) as watcher:
        ...     for _ in range(4):
        ...         optimizer.zero_grad()
        ...         model(torch.randn(8, 3, 16, 16)).square().mean().backward()
        ...         optimizer.step()
        >>> watcher.tags
        ['filters/0']
    """
    model = choice.check_model(model, OWNER)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{OWNER}(model, optimizer, ...) takes the torch.optim.Optimizer that trains the model, not "
            f"{type(optimizer).__name__}: filterviz counts its steps."
        )
    validate.integer("every_n_steps", every_n_steps, minimum=1, accepts=COUNT)
    choices = Choices.checked(layer, every_n_steps, log_initial, health, store_kernel, log_delta, **options)
    destinations = Destinations(OWNER, log_dir, wandb, mlflow)  # opened by rank 0 only
    watcher = Watcher(
        model, destinations, choices, owner=OWNER, writes=rank_zero(), step=optimizer_steps(optimizer)
    )
    watcher.attach(optimizer)
    return watcher
