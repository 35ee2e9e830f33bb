"""deploy/rabbitmq/definitions.json matches what the code declares (shared.amqp.topology).

Statically: the committed file equals the definitions built from ``Topology("wxface")``. On the
real broker: the file is imported into a throw-away virtual host, then the code's own
``Topology.declare`` runs against it; RabbitMQ refuses a re-declaration whose arguments differ
(PRECONDITION_FAILED), so success proves the two are equivalent. The default vhost is never
touched.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aio_pika
import pytest
from yarl import URL

from deploy.definitions import build_definitions
from shared.amqp.topology import Topology
from tests.deploy.files import DEPLOY, require_tool

DEFINITIONS = DEPLOY / "rabbitmq" / "definitions.json"
PREFIX = "wxface"


def _committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    return loaded


def test_committed_definitions_equal_the_topology() -> None:
    """The committed file is exactly what the Topology's specs produce for the default prefix."""
    assert _committed() == build_definitions(Topology(PREFIX))


def test_definitions_name_every_declared_object() -> None:
    """Every exchange and queue the code declares is in the file, with its bindings."""
    topology = Topology(PREFIX)
    doc = _committed()
    assert {e["name"] for e in doc["exchanges"]} == {e.name for e in topology.exchange_specs()}
    assert {q["name"] for q in doc["queues"]} == {q.name for q in topology.queue_specs()}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in doc["bindings"]}
    expected = {(ex, q.name, rk) for q in topology.queue_specs() for ex, rk in q.bindings}
    assert bindings == expected
    assert all(q["arguments"]["x-queue-type"] == "quorum" for q in doc["queues"])


def _ctl(*args: str, stdin: str | None = None) -> str:
    tool = require_tool("rabbitmqctl")
    result = subprocess.run(
        [tool, "-q", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


@pytest.fixture
def vhost(amqp_url: str, unique_prefix: str) -> Any:
    """A throw-away virtual host the AMQP user may use; deleted afterwards."""
    _ctl("add_vhost", unique_prefix)
    try:
        user = URL(amqp_url).user or "guest"
        _ctl("set_permissions", "-p", unique_prefix, user, ".*", ".*", ".*")
        yield unique_prefix
    finally:
        _ctl("delete_vhost", unique_prefix)


def _import(definitions: dict[str, Any], vhost: str) -> None:
    # through stdin: rabbitmqctl runs as the rabbitmq user, who cannot read pytest's tmp_path
    for kind in ("exchanges", "queues", "bindings", "policies"):
        for item in definitions[kind]:
            item["vhost"] = vhost
    _ctl("import_definitions", stdin=json.dumps(definitions))


@pytest.fixture
async def channel(amqp_url: str, vhost: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel on the throw-away virtual host."""
    url = amqp_url.rstrip("/") + "/" + quote(vhost, safe="")
    connection = await aio_pika.connect(url)
    async with connection:
        yield await connection.channel()


@pytest.mark.broker
async def test_imported_definitions_accept_the_codes_declarations(
    vhost: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """After importing the file, every object exists and the code re-declares it unchanged."""
    _import(_committed(), vhost)
    topology = Topology(PREFIX)
    for spec in topology.queue_specs():
        await channel.declare_queue(spec.name, passive=True)
    for ex in topology.exchange_specs():
        await channel.get_exchange(ex.name, ensure=True)
    await topology.declare(channel)
    policies = _ctl("list_queues", "-p", vhost, "name", "policy")
    assert policies.count(f"{PREFIX}-quorum-leaders") == len(topology.queue_specs())


@pytest.mark.broker
async def test_a_drifted_definition_is_refused_by_the_codes_declaration(
    vhost: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """A file whose work-queue arguments differ from the code's makes the declaration fail."""
    drifted = _committed()
    verify = next(q for q in drifted["queues"] if q["name"] == f"{PREFIX}.verify")
    verify["arguments"]["x-dead-letter-exchange"] = f"{PREFIX}.elsewhere"
    _import(drifted, vhost)
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await Topology(PREFIX).declare(channel)
