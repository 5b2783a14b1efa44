"""token-refresher's operator CLI: onboard connections, show their status, request rotations.

It runs on an operator's machine (never in Lambda) and reuses the ``token_refresher`` library for
the token document, the provider calls and the tag names, so that what it writes is exactly what the
rotation function reads.
"""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
