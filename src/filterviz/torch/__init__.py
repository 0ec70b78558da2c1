"""filterviz for PyTorch: the only code that imports torch (and Lightning and transformers, in its
`lightning` and `transformers` modules).

    import filterviz.torch
    with filterviz.torch.watch(model, optimizer, "logs/run1", every_n_steps=100):
        ...                                         # the training loop, unchanged
    img = filterviz.torch.render(model, example_input=batch)

Lightning: `filterviz.lightning.FilterLogger`; the Hugging Face Trainer:
`filterviz.transformers.FilterCallback`.
"""

from filterviz.torch.rendering import render, save_png
from filterviz.torch.watch import watch
from filterviz.torch.watcher import Watcher

__all__ = ["Watcher", "render", "save_png", "watch"]
