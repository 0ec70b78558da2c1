"""tests of filterviz.eventfile: event files written and read back."""
