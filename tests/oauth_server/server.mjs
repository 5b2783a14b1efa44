// An RFC-strict OAuth 2.0 server for the integration tests. The server is oidc-provider (by panva,
// installed from npm by `make oauth-server`); only this configuration is ours. It decodes HTTP
// Basic client credentials as RFC 6749 §2.3.1 says, rotates refresh tokens and refuses (and
// revokes the grant on) the reuse of a rotated one. One confidential client, read from
// OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET; listens on 127.0.0.1 (ephemeral port unless OAUTH_PORT)
// and prints one JSON line {"issuer", "redirect_uri"} once ready; SIGTERM stops it.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.OAUTH_CLIENT_ID;
const clientSecret = process.env.OAUTH_CLIENT_SECRET;
const redirectUri = 'http://127.0.0.1/callback';

const server = createServer();
server.listen(Number(process.env.OAUTH_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      introspection_endpoint_auth_method: 'client_secret_basic',
    }],
    features: { introspection: { enabled: true }, devInteractions: { enabled: true } },
    scopes: ['openid', 'offline_access', 'reports.read'],
    // Every refresh hands out a new refresh token and retires the one presented (RFC 9700 §4.14).
    rotateRefreshToken: true,
    issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: 600, RefreshToken: 86400, AuthorizationCode: 60, Grant: 86400, Interaction: 600, Session: 86400 },
    cookies: { keys: ['token-refresher-test-only-cookie-key'] },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, redirect_uri: redirectUri })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
