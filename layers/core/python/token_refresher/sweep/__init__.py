"""The sweep wing: which connections to rotate or check now, decided from tags alone.

- ``request``: the scheduled and manual events (``SweepRequest``);
- ``candidate``, ``selection``: the listed secrets and which of them this request is about;
- ``decision``: due or not, and why (``decide`` from tags, ``Decider`` for a request's terms);
- ``deadlines``: the 30/7/1-day warnings before a human deadline;
- ``liveness``: which connections to ask for their daily liveness check;
- ``lookahead``: an onboarding burst started ahead of its window; ``triage``: the order and cap
  of a sweep's hand-over, and the failing-platform breaker;
- ``adoption``: managed secrets of no instance (adopt or alert);
- ``starter``: the one way a rotation is started (``RotationStarter``), by the sweep and the
  queue worker alike; ``dispatch``: the queue worker's loop;
- ``report``: the sweep's report, log lines and metrics; ``slo``: the fleet's SLO gauges;
  ``engine``: the ``SweepEngine``.
"""

__all__ = [
    "adoption",
    "candidate",
    "deadlines",
    "decision",
    "dispatch",
    "engine",
    "liveness",
    "lookahead",
    "report",
    "request",
    "selection",
    "slo",
    "starter",
    "triage",
]
