"""From a kernel snapshot to a logged step, off the training thread: steps (a layer's grid, health and
stored kernel at one step, and what is shed when behind), worker (the thread, its bounded queue, the
writers' protocol), notices (what the worker has to tell the training thread), and the destinations that
are not event files (wandb). No Keras here.
"""
