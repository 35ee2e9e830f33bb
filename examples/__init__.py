"""Examples for downstream teams (run them as scripts; the package only lets the tests import)."""
