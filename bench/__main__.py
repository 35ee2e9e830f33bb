"""``python -m bench [NAME [ARGS…]]``: run one benchmark, or every benchmark in turn.

Each benchmark is a module with ``main(argv: list[str]) -> int``; add new ones to BENCHMARKS.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "receiver": "bench.receiver.runner",
    "store": "bench.store.runner",
    "worker": "bench.worker.runner",
    "wechat_http": "bench.wechat_http",
    "amqp_frames": "bench.amqp_frames",
    "wakeups": "bench.wakeups",
}


def run(name: str, argv: list[str]) -> int:
    """Run the benchmark ``name`` with its own arguments; its exit code."""
    module = importlib.import_module(BENCHMARKS[name])
    code: int = module.main(argv)
    return code


def main(argv: list[str]) -> int:
    """No argument: every benchmark (the worst exit code); else the named one and its options."""
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS))
        return 0
    if argv:
        if argv[0] not in BENCHMARKS:
            print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHMARKS)}")
            return 2
        return run(argv[0], argv[1:])
    return max(run(name, []) for name in BENCHMARKS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
