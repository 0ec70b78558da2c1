"""Writers: a grid image out to a destination (PNG file, TensorBoard, Weights & Biases). No Keras here."""
