"""The receiver benchmark: wxface's receiver against three baselines, same load, same run.

(a) a bare aiohttp handler (the HTTP ceiling), (b) aiohttp + aio-pika with a confirm per
publish, (c) Flask + pika under gunicorn, (d) ``python -m receiver``. See BENCHMARKS.md.
"""
