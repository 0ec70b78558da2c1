"""Where logs live: a folder on this machine, or a URL of an object store (`s3://`, `gs://`, `memory://`,
any scheme fsspec serves). stores (one small interface for listing, reading and putting bytes, with the
errors that say what to install or set) and uploads (new immutable objects from a bounded local spool, off
the writer's thread). No Keras, no event format here.
"""
