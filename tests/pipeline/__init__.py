"""tests of filterviz.pipeline: the writer thread, health logging and the W&B and MLflow destinations."""
