"""The rotation wing: what the rotation function does.

- ``engine``: the four rotation steps (``RotationEngine``): createSecret refreshes once and writes
  AWSPENDING at once, testSecret validates, finishSecret promotes and writes the state tags;
- ``preconditions``: what each step checks before it acts, and the pending values it reuses;
- ``check``: the on-demand check (``{"action": "check"}``): validation only, nothing written;
- ``liveness``: the daily liveness check's answer (``{"action": "liveness"}``): the same
  validation, its verdict recorded through the failure policy.
"""

__all__ = ["check", "engine", "liveness", "preconditions"]
