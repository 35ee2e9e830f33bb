"""``make demo``: the whole wxface pipeline against the WeChat stand-in, driven by a scripted mix.

``python -m bench.demo`` (``__main__.py``: options, Ctrl-C) runs one demo (``run.py``): it
starts the stand-in, the example subscriber, the receiver and two workers with the run's own
names and secrets (``config.py``, ``pipeline.py``, ``bench/child.py``), drives a few thousand
made-up applicants (``people.py``) through the mix in ``scenario.py`` (``drive.py``), collects
the outcome events the subscriber hands on (``collect.py``) under a progress bar
(``progress.py``), and compares what came out with what the script says must (``report.py``).
"""
