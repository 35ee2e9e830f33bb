"""Tests of the WeChat protocol core and API client."""
