"""Tests of the business API (``/v1``)."""
