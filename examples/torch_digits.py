"""A PyTorch linear classifier on scikit-learn's bundled digits, its ten templates logged while a plain
training loop runs, beside torch's own SummaryWriter. Runs offline; filterviz.torch imports no Keras.

    pip install "./filterviz[torch]" scikit-learn
    python examples/torch_digits.py [--epochs 30] [--logdir logs/torch-digits]
    tensorboard --logdir logs

nn.Linear(256, 10) on the 8x8 digits enlarged to 16x16, shaped (N, 1, 16, 16) as torch holds images and
flattened by nn.Flatten: row c of its weight, read as the 16x16 image it was flattened from, is digit c's
template (filterviz finds the image's shape from the first forward pass). "symmetric" normalization with
the diverging colour map shows which pixels are evidence for the digit (red) or against it (blue).
filterviz.torch.watch hooks the optimizer: nothing to call inside the loop; each grid's step is the number
of optimizer steps done, the step the loss is written at.
"""

import argparse

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn

import filterviz.torch

SIDE = 16


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 bundled digits, enlarged to 16x16 (bicubic), as (N, 1, 16, 16) floats in [0, 1]."""
    data = load_digits()
    enlarged = [
        np.asarray(
            Image.fromarray((image / 16.0).astype(np.float32)).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
        )
        for image in data.images
    ]
    images = torch.from_numpy(np.clip(np.stack(enlarged), 0, 1)[:, None])
    return images, torch.from_numpy(data.target).long()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--logdir", default="logs/torch-digits")
    parser.add_argument("--every-n-steps", type=int, default=50)
    args = parser.parse_args()

    torch.manual_seed(0)
    images, labels = digits()
    model = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    # Imported after the optimizer is made: torch.utils.tensorboard imports TensorFlow when it is installed,
    # and torch's CUDA build crashes if TensorFlow loads before its Triton (README, "PyTorch").
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(args.logdir)  # the loss, in the run "." of the same log directory
    step = 0
    look = {"normalize": "symmetric", "cmap": "diverging", "ncols": 5}
    with filterviz.torch.watch(model, optimizer, args.logdir, every_n_steps=args.every_n_steps, **look):
        for _ in range(args.epochs):
            order = torch.randperm(len(images))
            for start in range(0, len(images), 32):
                batch = order[start : start + 32]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
                loss.backward()
                optimizer.step()
                step += 1
                writer.add_scalar("loss", loss.item(), step)  # the loss after `step` steps, at that step
    writer.close()
    accuracy = (model(images).argmax(1) == labels).float().mean().item()
    print(f"{step} steps, training accuracy {accuracy:.1%}. See the templates with:")
    print(f"  tensorboard --logdir {args.logdir}   (the Filters tab, run 'filters')")


if __name__ == "__main__":
    main()
