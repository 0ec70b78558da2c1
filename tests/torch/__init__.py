"""tests of filterviz.torch, filterviz.lightning and filterviz.transformers: which module, the same picture
as Keras', and watch(), Lightning and the Hugging Face Trainer in real trainings."""
