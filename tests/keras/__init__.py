"""tests of filterviz.keras: which layer, render(model), and FilterLogger in real model.fit runs.

`make test-backends` runs them on jax and torch too."""
