"""``python -m bench.store.serve``: one receiver process with the business API mounted.

Settings come from the environment (``WXFACE_…``) exactly as for ``python -m receiver``; the
only difference is ``create_app(settings, extend=install)``, so the benchmark measures the API
as deployed (middleware, logging, store, WeChat client).
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web

from receiver.api import install
from receiver.app import create_app
from shared.errors import ConfigError
from shared.log import configure_logging
from shared.settings import ReceiverSettings, load_settings


def main() -> int:
    """Serve until SIGTERM/SIGINT; 2 on a configuration error."""
    try:
        settings = load_settings(ReceiverSettings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    web.run_app(
        create_app(settings, extend=install),
        host=settings.http_host,
        port=settings.http_port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
