"""The ``web.AppKey``s under which the stand-in app keeps its state, rules and pusher."""

from __future__ import annotations

from aiohttp import web

from standin.face import FaceApi
from standin.pusher import Pusher
from standin.state import StandinState

STATE = web.AppKey("standin_state", StandinState)
FACE = web.AppKey("standin_face", FaceApi)
PUSHER = web.AppKey("standin_pusher", Pusher)
