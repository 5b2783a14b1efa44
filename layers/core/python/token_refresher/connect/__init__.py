"""Connect and reconnect: a signed, single-use consent link per connection (docs/connect.md).

- :mod:`.links`: the link (signing, expiry, binding to one secret, provider and deployment);
- :mod:`.flow`: ``state``, the browser-binding cookie and PKCE, all derived from the link;
- :mod:`.platforms`: each platform's authorize URL; :mod:`.exchange`: code exchange, follow-up
  and the consenting identity;
- :mod:`.store`: reading the connection and storing the new grant; :mod:`.minter`: making links
  (CLI, alerts); :mod:`.pages`: the server-rendered pages; :mod:`.service`: the endpoint itself.
"""
