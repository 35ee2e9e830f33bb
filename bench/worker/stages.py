"""Where a message's time goes inside the workers: their own histograms, over one phase.

Each worker exposes on its health port how long its WeChat calls, its store batches and its
publish confirms took (``worker/metrics.py``). Scraped right before and right after a phase,
the differences of each histogram's sum and count give the phase's means, over all of its
workers. Add the lingers before the store batches (1 ms in a backlog, else 5), the broker's
ack → next delivery and each process's wait for a core, and they make up the time a message
holds its prefetch slot: the report's "turned over every … ms" line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, str]  # a histogram's name and the value of its one label ("" for none)

_WECHAT = "wxface_worker_wechat_call_seconds"
_BATCH_SECONDS = "wxface_worker_store_batch_seconds"
_BATCH_SIZE = "wxface_worker_store_batch_size"
_CONFIRM = "wxface_worker_publish_confirm_seconds"
_PER_MESSAGE_CALLS = ("getinfo", "queryverifyinfo")  # not the token fetches


@dataclass(frozen=True)
class Totals:
    """Sum and count of each histogram series, added over the workers."""

    values: Mapping[Series, tuple[float, float]]

    def since(self, before: Totals) -> Totals:
        """What was observed after ``before`` was scraped."""
        values = {}
        for key, (total, count) in self.values.items():
            earlier_total, earlier_count = before.values.get(key, (0.0, 0.0))
            values[key] = (total - earlier_total, count - earlier_count)
        return Totals(values)

    def mean(self, name: str, labels: Sequence[str] = ("",)) -> float | None:
        """The mean observation of ``name`` over the series with these label values."""
        total = sum(self.values.get((name, label), (0.0, 0.0))[0] for label in labels)
        count = sum(self.values.get((name, label), (0.0, 0.0))[1] for label in labels)
        return total / count if count > 0 else None

    def line(self) -> str | None:
        """The report's line: each stage's mean, and the store batches' mean sizes."""
        read, decide = ("read",), ("decide",)
        stages = (
            ("WeChat call", self.mean(_WECHAT, _PER_MESSAGE_CALLS), None),
            ("session read batch", self.mean(_BATCH_SECONDS, read), self.mean(_BATCH_SIZE, read)),
            ("decision batch", self.mean(_BATCH_SECONDS, decide), self.mean(_BATCH_SIZE, decide)),
            ("publish confirm", self.mean(_CONFIRM), None),
        )
        parts = [
            f"{what} {mean * 1e3:,.1f} ms" + ("" if size is None else f" ({size:,.1f} a batch)")
            for what, mean, size in stages
            if mean is not None
        ]
        return "  - inside the workers, on average: " + ", ".join(parts) if parts else None


async def scrape(urls: Sequence[str]) -> Totals | None:
    """The workers' histogram totals now; None without workers, or when one cannot answer."""
    if not urls:
        return None
    texts = []
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls:
                async with http.get(url) as response:
                    texts.append(await response.text())
    except (aiohttp.ClientError, OSError):
        return None
    return totals(texts)


def totals(texts: Iterable[str]) -> Totals:
    """The histograms' sums and counts in these Prometheus text expositions, added up."""
    values: dict[Series, tuple[float, float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.type != "histogram":
                continue
            for sample in family.samples:
                part = sample.name.removeprefix(family.name)
                if part not in ("_sum", "_count"):
                    continue
                key = (family.name, next(iter(sample.labels.values()), ""))
                total, count = values.get(key, (0.0, 0.0))
                if part == "_sum":
                    total += sample.value
                else:
                    count += sample.value
                values[key] = (total, count)
    return Totals(values)
