"""The TensorBoard event files FilterLogger writes, both ways: format (every name, tag and the layer's
description, with the version readers check), records (TFRecord framing, and where each value lies in an
event), writer (a step to an event), index (what a log directory holds, read incrementally and safely) and
history (one layer read back whole: `load_history`). No Keras here.
"""
