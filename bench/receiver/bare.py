"""Variant (a): a bare aiohttp handler that reads the body and answers ``success``.

The HTTP ceiling of this machine for the other variants: same server stack (aiohttp on uvloop),
no verification, no broker. ``python -m bench.receiver.bare PORT``.
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web

from bench.receiver.pushes import PATH


async def push(request: web.Request) -> web.Response:
    """Read the body, answer ``success``."""
    await request.read()
    return web.Response(text="success")


def create_app() -> web.Application:
    """The one-route app."""
    app = web.Application()
    app.router.add_post(PATH, push)
    return app


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:PORT until SIGTERM."""
    port = int(argv[0])
    web.run_app(
        create_app(),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
