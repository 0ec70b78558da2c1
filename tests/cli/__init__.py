"""tests of filterviz.cli: the command line, the demo, the examples, loading model files."""
