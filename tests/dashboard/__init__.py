"""tests of filterviz.dashboard: the routes, a real TensorBoard and headless Chromium, and the page's
modules without DOM under node --test."""
