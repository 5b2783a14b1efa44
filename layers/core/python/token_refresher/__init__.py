"""token-refresher: keep ad-platform API tokens stored in Secrets Manager alive.

The root holds the kernel (the values every wing shares: ``model``, ``state``, ``alerts``,
``errors``, ``events``, ``timeutil``, ``redact``, ``http``, ``config``, ``instances``,
``observability``) and the composition root (``runtime``); the wings are packages: ``rotation``,
``sweep``, ``alerting``, ``credentials``, ``connect``, beside ``providers`` and ``adapters``
(docs/architecture.md).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
