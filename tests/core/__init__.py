"""tests of filterviz.core: numpy in, numpy out, checked against the formulas the README states."""
