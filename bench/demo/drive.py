"""The load: each planned verification registered, scripted, finished and delivered over HTTP.

Per verification: ``POST /v1/verifications`` (business API), the stand-in scripted for its
``out_seq_no``, the user's part played by ``/_standin/complete`` (which, for a legacy push,
also pushes ``face_identify`` to the receiver in safe mode), or the result posted to
``/v1/verifications/{out_seq_no}/result`` (lost push, v2). A slot stays taken until the outcome
event arrives, so ``in_flight`` bounds the verifications anywhere in the pipeline. Halfway
through, every access token is invalidated at once, as WeChat does when a token is reset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from bench.demo.collect import Collector
from bench.demo.config import RunConfig
from bench.demo.scenario import Delivery, Planned
from standin.config import StandinConfig

REGISTER_ATTEMPTS = 3  # a 502 (WeChat refused, e.g. a token reset mid-call) is worth a retry
BAD_GATEWAY = 502


class StepError(Exception):
    """One step of one verification did not go as the flow requires."""


@dataclass
class Submission:
    """What the driver did for one verification."""

    answered_at: float | None = None  # the push (or result submission) was answered
    error: str | None = None
    register_retries: int = 0


class Driver:
    """Drives a plan through the pipeline with at most ``in_flight`` verifications open."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        config: RunConfig,
        collector: Collector,
        *,
        in_flight: int,
        outcome_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._c = config
        self._collector = collector
        self._in_flight = in_flight
        self._timeout_s = outcome_timeout_s
        self._clock = clock
        self._original_id = StandinConfig().original_id
        self.submissions: dict[str, Submission] = {}
        self.started = 0
        self.global_invalidations = 0
        self.problems: list[str] = []  # failures not tied to one verification

    async def run(self, planned: list[Planned]) -> None:
        """Drive every planned verification; return once each has its outcome or timed out."""
        slots = asyncio.Semaphore(self._in_flight)
        async with asyncio.TaskGroup() as tasks:
            for n, verification in enumerate(planned):
                await slots.acquire()
                if n == len(planned) // 2:
                    tasks.create_task(self._invalidate_tokens())
                self.started += 1
                tasks.create_task(self._one(verification, slots))

    async def _one(self, p: Planned, slots: asyncio.Semaphore) -> None:
        submission = self.submissions[p.out_seq_no] = Submission()
        try:
            await self._register(p, submission)
            if p.case.script:
                await self._standin("script", {"out_seq_no": p.out_seq_no, **p.case.script})
            await self._deliver(p, submission)
            first = self._collector.first(p.out_seq_no)
            await asyncio.wait_for(asyncio.shield(first), self._timeout_s)
        except StepError as exc:
            submission.error = str(exc)
        except TimeoutError:
            pass  # no outcome in time: the report counts it as missing
        finally:
            slots.release()

    async def _register(self, p: Planned, submission: Submission) -> None:
        body = {
            "flow": p.case.flow.value, "name": p.applicant.name,
            "id_card_number": p.applicant.id_card_number, "openid": p.openid,
            "out_seq_no": p.out_seq_no,
        }  # fmt: skip
        url = f"{self._c.receiver_url}/v1/verifications"
        for attempt in range(REGISTER_ATTEMPTS):
            status, _ = await self._post(url, body, api=True)
            if status == 201:
                return
            if status != BAD_GATEWAY or attempt + 1 == REGISTER_ATTEMPTS:
                raise StepError(f"registration answered HTTP {status}")
            submission.register_retries += 1

    async def _deliver(self, p: Planned, submission: Submission) -> None:
        """Finish the user's part and get the result to wxface; stamp the (first) answer."""
        delivery = p.case.delivery
        if delivery in (Delivery.PUSH, Delivery.PUSH_TWICE):
            completed = await self._complete(p, push=True)
            _check_push(completed)
            submission.answered_at = self._clock()
            if delivery is Delivery.PUSH_TWICE:
                _check_push(await self._push_again(p, completed))
            return
        completed = await self._complete(p, push=False)
        body = {"verify_result": _verify_result(completed)} if delivery is Delivery.RESULT else {}
        url = f"{self._c.receiver_url}/v1/verifications/{p.out_seq_no}/result"
        status, _ = await self._post(url, body, api=True)
        if status != 202:
            raise StepError(f"result submission answered HTTP {status}")
        submission.answered_at = self._clock()

    async def _complete(self, p: Planned, *, push: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"out_seq_no": p.out_seq_no, "openid": p.openid}
        if push:
            body.update(push_to=self._push_url, mode="safe", format=p.case.fmt.value)
        return await self._standin("complete", body)

    async def _push_again(self, p: Planned, completed: dict[str, Any]) -> dict[str, Any]:
        """WeChat pushing the same event again (it had not seen our ``success``)."""
        event = {
            "ToUserName": self._original_id, "FromUserName": p.openid,
            "CreateTime": int(time.time()), "MsgType": "event", "Event": "face_identify",
            "openid": p.openid, "out_seq_no": p.out_seq_no,
            "verify_result": _verify_result(completed),
        }  # fmt: skip
        body = {"push_to": self._push_url, "event": event, "mode": "safe",
                "format": p.case.fmt.value}  # fmt: skip
        return await self._standin("push", body)

    @property
    def _push_url(self) -> str:
        return f"{self._c.receiver_url}/wechat/push"

    async def _invalidate_tokens(self) -> None:
        try:
            await self._standin("invalidate_tokens", {})
        except StepError as exc:
            self.problems.append(f"token reset: {exc}")
            return
        self.global_invalidations += 1

    async def _standin(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        status, reply = await self._post(f"{self._c.standin_url}/_standin/{action}", body)
        if status != 200:
            raise StepError(f"stand-in {action} answered HTTP {status}")
        return reply

    async def _post(
        self, url: str, body: dict[str, Any], *, api: bool = False
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if api:
            headers["Authorization"] = f"Bearer {self._c.api_key}"
        try:
            async with self._http.post(url, data=orjson.dumps(body), headers=headers) as response:
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StepError(f"{url.rsplit('/', 1)[-1]}: {type(exc).__name__}") from exc
        try:
            reply = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            reply = {}
        return response.status, reply if isinstance(reply, dict) else {}


def _verify_result(completed: dict[str, Any]) -> str:
    value = completed.get("verify_result")
    if not isinstance(value, str) or not value:
        raise StepError("stand-in complete returned no verify_result")
    return value


def _check_push(reply: dict[str, Any]) -> None:
    status, body = reply.get("push_status"), reply.get("push_body")
    if status != 200 or body != "success":
        raise StepError(f"push answered HTTP {status}")
