"""The receiver: verified, durable intake of WeChat pushes (``python -m receiver``)."""
