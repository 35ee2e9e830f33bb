"""Variant (c): the naive baseline, Flask + pika ``BlockingConnection`` with confirms.

Run under gunicorn (sync workers): each worker opens its own connection on its first request
and publishes persistent + mandatory, blocking on the confirm. Same verification core as the
others. ``gunicorn -w 2 'bench.receiver.flask_baseline:create_app("AMQP_URL", "PREFIX")'``.
"""

from __future__ import annotations

import time

import pika
from flask import Flask, Response, request
from pika.adapters.blocking_connection import BlockingChannel

from bench.receiver.pushes import PATH, policy
from shared.errors import PushError
from shared.vocabulary import Flow
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import PushQuery, verify_push
from shared.work import WorkItem

EXTENSION = "wxbench_channel"


class _Channel:
    """This worker's confirm-mode channel, opened after gunicorn forked it."""

    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url
        self._channel: BlockingChannel | None = None

    def get(self) -> BlockingChannel:
        """The open channel, connecting first if needed."""
        if self._channel is None or self._channel.is_closed:
            connection = pika.BlockingConnection(pika.URLParameters(self._url))
            self._channel = connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._channel is not None and self._channel.connection.is_open:
            self._channel.connection.close()
        self._channel = None


def create_app(amqp_url: str, prefix: str) -> Flask:
    """The Flask app (gunicorn's app factory)."""
    app = Flask(__name__)
    channel = _Channel(amqp_url)
    app.extensions[EXTENSION] = channel  # so that tests can close the connection
    push_policy = policy()

    @app.post(PATH)
    def push() -> Response:
        try:
            verified = verify_push(
                PushQuery.from_mapping(request.args), request.get_data(), push_policy, time.time()
            )
        except PushError as exc:
            return Response(exc.code, status=exc.http_status)
        event = verified.event
        if isinstance(event, FaceIdentifyEvent):
            item = WorkItem(
                kind="push",
                flow=Flow.LEGACY,
                appid=push_policy.appid,
                out_seq_no=event.out_seq_no,
                openid=event.openid,
                verify_result=event.verify_result,
                create_time=event.CreateTime,
                received_at=time.time(),
            )
            properties = pika.BasicProperties(
                delivery_mode=2, message_id=item.message_id(), content_type="application/json"
            )
            channel.get().basic_publish(
                f"{prefix}.intake", "verify", item.encode(), properties, mandatory=True
            )
        return Response("success", mimetype="text/plain")

    return app
