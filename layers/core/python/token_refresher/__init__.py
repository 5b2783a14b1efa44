"""token-refresher: keep ad-platform API tokens stored in Secrets Manager alive."""

__version__ = "0.1.0"
