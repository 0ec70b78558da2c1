"""TensorBoard's Filters tab: plugin (the routes, which only parse a request and delegate), sources (where
the logs are read from, and which thread owns what), answers (what the routes answer, made from a layer's
view) and static/ (the plain ES modules the browser runs). Reads event files; no Keras here.
"""
