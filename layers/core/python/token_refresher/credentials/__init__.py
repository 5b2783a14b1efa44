"""The credentials wing: a connection's app credentials.

- ``lookup``: reading them (instance binding first, cached per invocation);
- ``binding``: may this connection use these app credentials, and send them to its URLs (pure).
"""

__all__ = ["binding", "lookup"]
