"""``python -m receiver``: parse settings once, then serve with one or several processes."""

from __future__ import annotations

import sys

from receiver.process import serve, supervise
from shared.errors import ConfigError
from shared.log import configure_logging
from shared.settings import ReceiverSettings, load_settings


def main() -> int:
    """Entry point: exit 2 on a configuration error, 0 after a clean stop."""
    try:
        settings = load_settings(ReceiverSettings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings.http_workers == 1:
        serve(settings)
        return 0
    configure_logging(settings.log_format, settings.log_level)
    return supervise(settings)


if __name__ == "__main__":
    sys.exit(main())
