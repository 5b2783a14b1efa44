"""Connect and reconnect: a signed, single-use consent link per connection (docs/connect.md).

- ``links``: the link (signing, expiry, binding to one secret, provider and deployment);
  ``minter``: making links (CLI, alerts); ``reconnect``: adds ``reconnect_url`` to alerts (a
  notifier wrapper; it makes no AWS call of its own);
- ``flow``: ``state``, the browser-binding cookie and PKCE, all derived from the link;
- ``platforms``: each platform's authorize URL, and which connections have no consent flow;
- ``exchange``: code exchange, follow-up and the consenting account; ``idtoken``: the id_token's
  checks and the identity reads;
- ``store``: reading the connection and storing the new grant through the rotation engine's steps;
  ``attempts``: the cap of failed callbacks per link;
- ``request``: the Function URL event; ``service``: the endpoint (routing); ``landing``: a link's
  page; ``callback``: a platform's return; ``endpoint``: what both share;
- ``pages``, ``problems``: the server-rendered pages and the failure pages.
"""

__all__ = [
    "attempts",
    "callback",
    "endpoint",
    "exchange",
    "flow",
    "idtoken",
    "landing",
    "links",
    "minter",
    "pages",
    "platforms",
    "problems",
    "reconnect",
    "request",
    "service",
    "store",
]
