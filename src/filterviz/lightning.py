"""`filterviz.lightning.FilterLogger`: filterviz's Lightning Callback (from filterviz.torch.lightning)."""

from filterviz.torch.lightning import FilterLogger

__all__ = ["FilterLogger"]
