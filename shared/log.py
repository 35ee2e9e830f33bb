"""Logging: structlog configured once per process, stdlib loggers routed through it.

JSON lines when stderr is not a TTY (or ``WXFACE_LOG_FORMAT=json``), a readable console
otherwise. ``merge_contextvars`` runs first so that ``request_id`` / ``message_id`` bound per
unit of work reach every line. :func:`redact` is the safety net that masks personal data and
secrets if they ever reach a log call; the plan is still never to log them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import orjson
import structlog

MASK = "[redacted]"

# keys whose values are personal data or secrets, wherever they appear (lower-cased match)
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "cert_name",
        "id_card_number",
        "idcardnumber",
        "cert_no",
        "cert_info",
        "verify_result",
        "verifyresult",
        "access_token",
        "token",
        "secret",
        "appsecret",
        "encoding_aes_key",
        "aes_key",
        "data_key",
        "api_key",
        "api_keys",
        "authorization",
        "password",
        "amqp_url",
        "encrypt",
        "body",
        "raw_body",
    }
)
# an 18-character PRC ID number, or an access_token / secret carried in a URL or free text
_ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")
_URL_SECRET_RE = re.compile(r"((?i:access_token|secret|verify_result)=)[^&\s\"']+")
_AMQP_PASSWORD_RE = re.compile(r"(amqps?://[^:/@\s]+:)[^@\s]+@")


def _may_hold_secret(text: str) -> bool:
    """False when none of the three patterns can match: a URL secret needs an ``=``, a broker
    password an ``@``. Cheaper than one search for all three, whose alternation defeats the
    regex engine's own shortcuts (several times slower on a plain hex id)."""
    return "=" in text or "@" in text or _ID_NUMBER_RE.search(text) is not None


def redact_text(text: str) -> str:
    """Mask ID numbers, URL-borne tokens and broker passwords inside free text."""
    if not _may_hold_secret(text):  # the common case: nothing to mask
        return text
    text = _ID_NUMBER_RE.sub(MASK, text)
    text = _URL_SECRET_RE.sub(lambda m: m.group(1) + MASK, text)
    return _AMQP_PASSWORD_RE.sub(lambda m: m.group(1) + MASK + "@", text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_KEYS and value is not None:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive keys and patterns in every field of the event."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class UtcTimestamp:
    """structlog processor: ``timestamp``, ISO 8601 in UTC with microseconds, ``Z``-suffixed.

    As ``TimeStamper(fmt="iso", utc=True)`` writes it, at a fixed width (that one drops a zero
    fraction) and for a fraction of its cost, which every log line pays: the date and time of
    day are formatted once a second, and only the fraction per line.
    """

    __slots__ = ("_clock", "_second")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second: tuple[int, str] = (-1, "")  # swapped whole: safe from any thread

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Add the ``timestamp`` field."""
        now = self._clock()
        whole = int(now)
        second = self._second
        if second[0] != whole:
            second = self._second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        event_dict["timestamp"] = f"{second[1]}.{int((now - whole) * 1_000_000):06d}Z"
        return event_dict


def _shared_processors() -> list[Any]:
    """Redaction sees every field the caller (or an exception) supplied; the level, logger name
    and timestamp are added after it, as they are ours and never need masking."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        redact,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        UtcTimestamp(),
    ]


class JsonLineLogger:
    """structlog's output for JSON: each rendered line straight to the current ``sys.stderr``.

    Looked up per line (not captured at configuration), so redirected or captured stderr works.
    ``name`` is the module's (what ``add_logger_name`` reports as ``logger``).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def msg(self, line: bytes) -> None:
        """Write one line and flush it (one write per line, as the stdlib handler did)."""
        stream = sys.stderr
        binary = getattr(stream, "buffer", None)
        if binary is None:
            stream.write(line.decode() + "\n")
            stream.flush()
            return
        stream.flush()  # text already written through the wrapper goes first
        binary.write(line + b"\n")
        binary.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _json_logger(*args: Any) -> JsonLineLogger:
    return JsonLineLogger(str(args[0]) if args else "")


def _configure_json(level: str) -> None:
    """JSON: structlog loggers render with orjson and write directly, skipping stdlib logging."""
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=_json_logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


def _configure_console(level: str) -> None:
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


def configure_logging(log_format: str | None = None, level: str = "info") -> None:
    """Configure structlog and the stdlib root logger; safe to call more than once.

    structlog's own loggers (every wxface module) render JSON lines directly; stdlib records
    (aiohttp, aio-pika) go through a handler with the same processors, redaction included.
    """
    fmt = log_format or ("console" if sys.stderr.isatty() else "json")
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    if fmt == "console":
        _configure_console(level)
    else:
        _configure_json(level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aio-pika / aiormq are chatty at INFO about every reconnect attempt detail
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for module ``name`` (use ``__name__``)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
