// An OpenID provider for portcullis's interoperability tests: oidc-provider (OpenID Certified),
// configured as a real deployment would be for an API: the client-credentials grant, JWT access
// tokens (RFC 9068, `typ: at+jwt`) for one resource indicator (RFC 8707), opaque access tokens
// for others, token introspection (RFC 7662) and revocation (RFC 7009).
//
// Started by the Rust tests on 127.0.0.1. Environment:
//   PORT       the port to listen on; 0 (the default) picks a free one
//   STATE_DIR  where the signing keys are kept, so that a restart keeps them (required)
//   KEY_IDS    the signing keys' ids, comma-separated, the signing one first (default "k1");
//              each is generated once and kept in STATE_DIR, so "k2,k1" after "k1" rotates
// It prints one line, `listening <issuer>`, once it accepts connections.
//
// Clients (secret: `<id>-secret`): alice (docs:read docs:write docs:delete), bob (docs:read),
// admin (admin:read), and documents-api, the API itself, the one client allowed to introspect;
// web, an authorization-code client (redirect URI http://127.0.0.1/callback) for users' sessions.
// A user signs in through `GET /test/sign-in/<interaction uid>?user=…&acr=…` (the interaction
// the authorization endpoint redirects to, finished for that user with that `acr`, consenting to
// what was asked): the session's `acr` and `auth_time` are then in the JWT access tokens of that
// authorization, as RFC 9068 §2.2.1 says (step-up authentication, RFC 9470).
// Resources (RFC 8707 `resource`):
//   https://documents.example          JWT access tokens, audience `documents-api` (the default)
//   https://documents.example/opaque   opaque access tokens, audience `documents-api`
//   https://documents.example/brief    the same, valid for 2 s
//   https://elsewhere.example          opaque access tokens for another API (`elsewhere-api`)
// `GET /test/introspections` answers how many introspection requests were received, so that
// the tests can count what the API's cache saves.

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

import Provider, { errors } from 'oidc-provider';

const RESOURCE = 'https://documents.example';
const AUDIENCE = 'documents-api';
// Opaque tokens: resource indicator → [audience, lifetime in seconds].
const OPAQUE = {
  'https://documents.example/opaque': [AUDIENCE, 600],
  'https://documents.example/brief': [AUDIENCE, 2],
  'https://elsewhere.example': ['elsewhere-api', 600],
};
let introspections = 0;
const SCOPES = ['docs:read', 'docs:write', 'docs:delete', 'admin:read'];

const stateDir = process.env.STATE_DIR;
if (!stateDir) {
  console.error('STATE_DIR is required');
  process.exit(2);
}
mkdirSync(stateDir, { recursive: true });
const kids = (process.env.KEY_IDS || 'k1').split(',').map((kid) => kid.trim()).filter(Boolean);

function signingKey(kid) {
  const file = join(stateDir, `${kid}.json`);
  if (existsSync(file)) {
    return JSON.parse(readFileSync(file, 'utf8'));
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  writeFileSync(file, JSON.stringify(jwk));
  return jwk;
}

const ACR_VALUES = ['urn:documents:password', 'urn:documents:mfa'];
const REDIRECT_URI = 'http://127.0.0.1/callback';

const client = (id, scope) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  scope,
});

const server = createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      client('alice', 'docs:read docs:write docs:delete'),
      client('bob', 'docs:read'),
      client('admin', 'admin:read'),
      client('documents-api', 'docs:read'),
      {
        client_id: 'web',
        client_secret: 'web-secret',
        grant_types: ['authorization_code'],
        redirect_uris: [REDIRECT_URI],
        response_types: ['code'],
        scope: 'openid docs:read',
      },
    ],
    acrValues: ACR_VALUES,
    // The sign-in behind an access token (RFC 9068 §2.2.1): from the authorization code the
    // token is exchanged for, which carries the session's.
    extraTokenClaims: (ctx, token) => {
      const code = ctx.oidc.entities.AuthorizationCode;
      if (token.kind !== 'AccessToken' || !code) {
        return undefined;
      }
      return { acr: code.acr, auth_time: code.authTime };
    },
    jwks: { keys: kids.map(signingKey) },
    scopes: ['openid', ...SCOPES],
    cookies: { keys: ['portcullis-interoperability-tests'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the resource server learns what a token is worth.
        allowedPolicy: (ctx, caller) => caller.clientId === AUDIENCE,
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (OPAQUE[resourceIndicator]) {
            const [audience, ttl] = OPAQUE[resourceIndicator];
            return {
              scope: SCOPES.join(' '),
              audience,
              accessTokenTTL: ttl,
              accessTokenFormat: 'opaque',
            };
          }
          if (resourceIndicator !== RESOURCE) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: SCOPES.join(' '),
            audience: AUDIENCE,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token/introspection') {
      introspections += 1;
    }
    await next();
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const signIn = req.method === 'GET' && req.url.match(/^\/test\/sign-in\/[^/?]+\?(.*)$/);
    if (signIn) {
      try {
        const query = new URLSearchParams(signIn[1]);
        const accountId = query.get('user');
        const acr = query.get('acr');
        const { params } = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({ accountId, clientId: params.client_id });
        // Everything asked for: the scopes as the provider's (it lists the API's among its own)
        // and as the resource's.
        grant.addOIDCScope(params.scope);
        grant.addResourceScope(RESOURCE, params.scope);
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, {
          login: { accountId, acr },
          consent: { grantId },
        }, { mergeWithLastSubmission: false });
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
      return;
    }
    if (req.method === 'GET' && req.url === '/test/introspections') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ introspections }));
      return;
    }
    callback(req, res);
  });
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
