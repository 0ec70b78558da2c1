"""The only code that imports Keras: which layer a model's data reaches first (dataflow, choice, kernels,
image_shape), drawing it (rendering: `render`, `save_png`), and logging it during training (callback:
`FilterLogger`, its schedule, and first_step for models that are built by their first training step).
"""
