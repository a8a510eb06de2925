// An OpenID Provider for jwt_wsgi's tests: panva's node-oidc-provider (OpenID
// Certified), served over HTTPS on 127.0.0.1 with a test CA's certificate.
// Client credentials give RFC 9068 JWT access tokens for the resources below,
// each signed with its own algorithm; DPoP is on and always asks for a nonce.
// Everything comes from the environment (OP_*), set by the test fixture.
import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(env('OP_PORT'));
const issuer = `https://127.0.0.1:${port}`;
const keys = JSON.parse(readFileSync(env('OP_JWKS'), 'utf8'));
// resource indicator -> signing algorithm of its access tokens
const resources = JSON.parse(env('OP_RESOURCES'));

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'api-client',
    client_secret: env('OP_CLIENT_SECRET'),
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    scope: 'orders:read orders:write',
  }],
  jwks: keys,
  scopes: ['orders:read', 'orders:write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true, nonceSecret: Buffer.alloc(32, 7), requireNonce: () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => Object.keys(resources)[0],
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (!(indicator in resources)) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'orders:read orders:write',
          audience: 'https://api.example',
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: resources[indicator] } },
        };
      },
    },
  },
  enabledJWA: {
    dPoPSigningAlgValues: ['Ed25519', 'ES256', 'EdDSA'],
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

https
  .createServer({ cert: readFileSync(env('OP_CERT')), key: readFileSync(env('OP_KEY')) },
    provider.callback())
  .listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
