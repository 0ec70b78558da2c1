"""`filterviz.transformers.FilterCallback`: filterviz's Hugging Face TrainerCallback (it lives in
filterviz.torch.transformers)."""

from filterviz.torch.transformers import FilterCallback

__all__ = ["FilterCallback"]
