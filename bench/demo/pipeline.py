"""The demo's wxface deployment: stand-in, receiver, two workers and a downstream subscriber.

Each child logs into the run directory (``config.py`` has the run's names, secrets and ports).
:meth:`Pipeline.start` brings the children up in dependency order and waits until each is
ready; :meth:`Pipeline.stop` stops them (receiver first, so no new work enters; subscriber
last) and deletes the run's queues and exchanges.
"""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika
import aiohttp

from bench.child import Child, ChildError, child_env, wait_ready
from bench.demo.collect import Collector
from bench.demo.config import WORKERS, RunConfig
from shared.amqp.topology import Topology

SUBSCRIBER_READY_S = 30.0
# stop order: nothing new enters first, the subscriber goes last
STOP_ORDER = ("receiver", "worker", "standin", "subscriber")


class Pipeline:
    """The children of one run; ``start`` once, ``stop`` once (also after a failed start)."""

    def __init__(self, config: RunConfig, collector: Collector) -> None:
        self.config = config
        self.collector = collector
        self.children: list[Child] = []
        self._reader: asyncio.Task[None] | None = None

    def _child(self, name: str, args: list[str], env: dict[str, str], pipe: bool = False) -> Child:
        child = Child(name, args, child_env(env), self.config.run_dir / f"{name}.log",
                      pipe_stdout=pipe)  # fmt: skip
        self.children.append(child)
        return child

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Start every child in order and wait until each is ready."""
        c = self.config
        (c.run_dir / "spool").mkdir(parents=True, exist_ok=True)
        standin = self._child("standin", c.standin_args(), {})
        await standin.start()
        await wait_ready(standin, http, f"{c.standin_url}/_standin/stats")
        subscriber = self._child("subscriber", c.subscriber_args(), {}, pipe=True)
        await subscriber.start()
        log = c.run_dir / "subscriber-events.jsonl"
        self._reader = asyncio.create_task(self.collector.read(subscriber.stdout, log))
        await self._wait_subscriber(subscriber, self._reader)
        receiver = self._child("receiver", ["-m", "receiver"], c.receiver_env())
        workers = [self._child(f"worker-{n + 1}", ["-m", "worker"], c.worker_env(n))
                   for n in range(WORKERS)]  # fmt: skip
        for child in (receiver, *workers):
            await child.start()
        await wait_ready(receiver, http, f"{c.receiver_url}/readyz")
        for n, worker in enumerate(workers):
            await wait_ready(worker, http, f"{c.worker_url(n)}/readyz")

    async def _wait_subscriber(self, subscriber: Child, reader: asyncio.Task[None]) -> None:
        # ready once its queue is bound; the reader ending first means the subscriber exited
        ready = asyncio.create_task(self.collector.ready.wait())
        await asyncio.wait({ready, reader}, timeout=SUBSCRIBER_READY_S,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if not ready.done():
            ready.cancel()
            raise ChildError(f"subscriber was not ready; see {subscriber.log_path}")

    def check_alive(self) -> None:
        """Raise ChildError if any child has died."""
        for child in self.children:
            child.check_alive()

    async def watch(self, every_s: float = 0.5) -> None:
        """Return never; raise ChildError as soon as a child has died."""
        while True:
            self.check_alive()
            await asyncio.sleep(every_s)  # polling process status: there is no event to await

    async def stop(self) -> tuple[dict[str, int | None], bool]:
        """Stop the children (receiver, workers, stand-in, subscriber), delete the run's names.

        Returns each child's exit status and whether the names were deleted.
        """
        statuses: dict[str, int | None] = {}
        for stage in STOP_ORDER:
            group = [c for c in self.children if c.name.startswith(stage)]
            codes = await asyncio.gather(*(c.stop() for c in group))
            statuses.update(zip((c.name for c in group), codes, strict=True))
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._reader, 5.0)
        return statuses, await delete_names(self.config)


async def delete_names(config: RunConfig) -> bool:
    """Delete every queue and exchange the run declared; False when the broker was unreachable."""
    try:
        connection = await aio_pika.connect(config.amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(config.subscriber_queue)
            await Topology(config.prefix).delete(channel)
    except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
        return False
    return True
