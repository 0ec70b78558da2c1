"""Larger trainings on the TensorFlow backend only: keras-hub backbones and the fault zoo."""
