// The official TypeScript SDK's OAuth client against `vaultmcp serve` in GitHub mode with the
// stand-in GitHub (fake-github.mjs): discovery (401 → protected-resource metadata →
// authorization-server metadata), dynamic registration, authorization through a headless user
// agent that submits the consent form and passes the stand-in GitHub, the token exchange, an MCP
// `search`, then a refresh (the access token goes bad, the transport gets a 401 and the SDK
// refreshes) and another call. Also: an account not on the allow-list ends at the client's
// redirect URI with error=access_denied.
//
// Run: VAULTMCP_OAUTH_URL=http://127.0.0.1:PORT/mcp FAKE_GITHUB_URL=http://127.0.0.1:GH \
//      FAKE_GITHUB_ID=4242 FAKE_GITHUB_LOGIN=e2e-owner node --test oauth-client.test.mjs
// (scripts/e2e.sh starts both servers and sets these).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import {
  CookieJar,
  checkSearchShape,
  decodeJwt,
  driveAuthorization,
  freePort,
  randomState,
  settings,
} from './oauth-helpers.mjs';

const S = settings();
const CLIENT_NAME = 'vaultmcp e2e (TypeScript SDK)';

/**
 * An OAuthClientProvider keeping everything in memory. redirectToAuthorization runs the
 * headless user agent and keeps where it ended (the client's redirect URI with code or error).
 */
class HeadlessProvider {
  constructor({ redirectUrl, jar = new CookieJar(), decision = 'approve' }) {
    this._redirectUrl = redirectUrl;
    this.jar = jar;
    this.decision = decision;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.savedTokens = [];
    this.states = [];
    this.authorizationUrls = [];
    this.landing = undefined;
    this.consent = undefined;
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [this._redirectUrl],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }

  state() {
    const s = randomState();
    this.states.push(s);
    return s;
  }

  clientInformation() {
    return this._client;
  }

  saveClientInformation(info) {
    this._client = info;
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
    this.savedTokens.push(tokens);
  }

  saveCodeVerifier(v) {
    this._verifier = v;
  }

  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }

  async redirectToAuthorization(url) {
    this.authorizationUrls.push(new URL(url));
    const r = await driveAuthorization(url, {
      stopAt: this._redirectUrl,
      decision: this.decision,
      jar: this.jar,
    });
    this.landing = r.url;
    this.consent = r.consent;
    this.hops = r.hops;
  }

  /** Makes the stored access token unusable (a bad signature), as an expired one would be. */
  spoilAccessToken() {
    const t = this._tokens.access_token;
    this._tokens = { ...this._tokens, access_token: `${t.slice(0, -4)}AAAA` };
  }
}

/** fetch that records "METHOD path status" for every request the SDK makes. */
function recordingFetch(log) {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    let grant = '';
    if (url.pathname === '/token' && typeof init?.body !== 'undefined') {
      grant = ` ${new URLSearchParams(String(init.body)).get('grant_type')}`;
    }
    log.push(`${method} ${url.pathname}${grant} ${res.status}`);
    return res;
  };
}

function withoutDiscovery(entries) {
  return entries.filter((e) => !e.startsWith('GET /.well-known/'));
}

function landingParams(provider) {
  assert.ok(provider.landing, 'the user agent reached the redirect URI');
  return Object.fromEntries(provider.landing.searchParams);
}

describe('TypeScript SDK OAuth client → vaultmcp (GitHub mode, stand-in GitHub)', () => {
  let redirectUrl;

  before(async () => {
    redirectUrl = `http://127.0.0.1:${await freePort()}/callback`;
  });

  test('an MCP request without a token gets the contract 401', async () => {
    const res = await fetch(S.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer resource_metadata="${S.base}/.well-known/oauth-protected-resource/mcp", scope="notes:read"`,
    );
  });

  describe('discovery, registration, consent, GitHub, token, search, refresh', () => {
    let provider;
    let code;
    const log = [];
    const clients = [];

    before(() => {
      provider = new HeadlessProvider({ redirectUrl });
    });

    after(async () => {
      for (const [client, transport] of clients) {
        await transport.terminateSession().catch(() => {});
        await client.close();
      }
    });

    function connectClient() {
      const client = new Client({ name: 'vaultmcp-e2e-oauth', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(S.mcpUrl), {
        authProvider: provider,
        fetch: recordingFetch(log),
      });
      clients.push([client, transport]);
      return { client, transport };
    }

    test('first connect: 401, discovery, registration, authorization through consent and GitHub', async () => {
      const { client, transport } = connectClient();
      await assert.rejects(client.connect(transport), UnauthorizedError);

      // Discovery in order, then dynamic registration.
      assert.deepEqual(log.slice(0, 4), [
        'POST /mcp 401',
        'GET /.well-known/oauth-protected-resource/mcp 200',
        'GET /.well-known/oauth-authorization-server 200',
        'POST /register 201',
      ]);
      const info = provider.clientInformation();
      assert.ok(info.client_id, 'registered');
      assert.equal(info.client_secret, undefined, 'a public client has no secret');
      assert.deepEqual(info.redirect_uris, [redirectUrl]);

      // What the SDK asked for.
      assert.equal(provider.authorizationUrls.length, 1);
      const az = provider.authorizationUrls[0];
      assert.equal(`${az.origin}${az.pathname}`, `${S.base}/authorize`);
      assert.equal(az.searchParams.get('response_type'), 'code');
      assert.equal(az.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(az.searchParams.get('resource'), `${S.base}/mcp`);
      assert.equal(az.searchParams.get('scope'), 'notes:read');

      // The consent page named the client and the redirect host.
      const { html, form, headers } = provider.consent;
      assert.match(html, new RegExp(`<strong id="client-name">${CLIENT_NAME.replace(/[()]/g, '\\$&')}</strong>`));
      assert.match(html, new RegExp(`<strong id="redirect-host">${new URL(redirectUrl).host}</strong>`));
      assert.equal(headers.get('x-frame-options'), 'DENY');
      assert.match(headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(form.action, '/authorize');
      assert.equal(form.fields.client_id, info.client_id);

      // The user agent went consent → GitHub → our callback → the client.
      assert.deepEqual(
        provider.hops.map((h) => h.replace(S.base, 'AS').replace(S.githubUrl, 'GH')),
        [
          'GET AS/authorize',
          'POST AS/authorize',
          'GET GH/login/oauth/authorize',
          'GET AS/oauth/github/callback',
        ],
      );

      // Back at the client: code, our state, the issuer (RFC 9207).
      const p = landingParams(provider);
      assert.ok(p.code, `a code: ${provider.landing}`);
      assert.equal(p.error, undefined);
      assert.equal(p.state, provider.states.at(-1));
      assert.equal(p.iss, S.base);
      assert.equal(`${provider.landing.origin}${provider.landing.pathname}`, redirectUrl);

      // vaultmcp's own GitHub request: its callback, its own state and PKCE S256, and the token
      // exchange asked for JSON and succeeded (the GitHub token never reaches the client).
      const gh = await (await fetch(`${S.githubUrl}/__e2e/requests`)).json();
      const ghAuthz = gh.filter((r) => r.endpoint === 'authorize').at(-1).params;
      assert.equal(ghAuthz.redirect_uri, `${S.base}/oauth/github/callback`);
      assert.equal(ghAuthz.code_challenge_method, 'S256');
      assert.equal(ghAuthz.allow_signup, 'false');
      assert.notEqual(ghAuthz.state, p.state, 'vaultmcp uses its own state at GitHub');
      const ghToken = gh.filter((r) => r.endpoint === 'access_token').at(-1);
      assert.match(ghToken.accept, /application\/json/);
      assert.equal(ghToken.params.grant_type, 'authorization_code');

      // finishAuth: the token exchange.
      await transport.finishAuth(p.code);
      // (Without a cached discovery state the SDK rediscovers before each token request.)
      assert.deepEqual(withoutDiscovery(log.slice(4)), ['POST /token authorization_code 200']);
      const tokens = provider.tokens();
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.refresh_token, 'a refresh token');
      assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 3600, `expires_in ${tokens.expires_in}`);
      assert.ok(!tokens.access_token.startsWith('gho_'), 'not the GitHub token');
      const { header, claims } = decodeJwt(tokens.access_token);
      assert.equal(header.alg, 'EdDSA');
      assert.ok(header.kid);
      assert.equal(claims.iss, S.base);
      assert.equal(claims.aud, `${S.base}/mcp`);
      assert.equal(claims.sub, `github:${S.allowedId}`);
      assert.equal(claims.login, S.allowedLogin);
      assert.equal(claims.scope, 'notes:read');
      assert.equal(claims.client_id, info.client_id);
      code = p.code;
    });

    test('with the token: connect and search (ChatGPT shape)', async () => {
      const { client, transport } = connectClient();
      await client.connect(transport);
      assert.equal(client.getServerVersion().name, 'vaultmcp');
      const hits = checkSearchShape(
        await client.callTool({ name: 'search', arguments: { query: 'Zettelkasten' } }),
      );
      assert.ok(hits.some((h) => h.id === 'topics/Zettelkasten Method.md'), JSON.stringify(hits));
    });

    test('refresh: a spoiled access token → 401 → the SDK refreshes (rotation) → the call succeeds', async () => {
      const [client] = clients.at(-1);
      const before = provider.tokens();
      provider.spoilAccessToken();
      const mark = log.length;
      const hits = checkSearchShape(
        await client.callTool({ name: 'search', arguments: { query: 'Luhmann' } }),
      );
      assert.ok(hits.length >= 1);
      assert.deepEqual(withoutDiscovery(log.slice(mark)), [
        'POST /mcp 401',
        'POST /token refresh_token 200',
        'POST /mcp 200',
      ]);
      const after = provider.tokens();
      assert.notEqual(after.access_token, before.access_token);
      assert.ok(after.refresh_token, 'a new refresh token');
      assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token rotated');
      assert.equal(decodeJwt(after.access_token).claims.sub, `github:${S.allowedId}`);

      // And an explicit refresh through auth() (no authorization code, tokens present).
      assert.equal(await auth(provider, { serverUrl: S.mcpUrl, fetchFn: recordingFetch(log) }), 'AUTHORIZED');
      assert.equal(log.at(-1), 'POST /token refresh_token 200');
      const third = provider.tokens();
      assert.notEqual(third.refresh_token, after.refresh_token);
      checkSearchShape(await client.callTool({ name: 'search', arguments: { query: 'note' } }));

      // Replaying a rotated-out refresh token is refused and revokes the grant (RFC 9700 §4.14).
      const replay = async (rt) =>
        fetch(`${S.base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: rt,
            client_id: provider.clientInformation().client_id,
          }),
        });
      const r1 = await replay(before.refresh_token);
      assert.equal(r1.status, 400);
      assert.equal((await r1.json()).error, 'invalid_grant');
      const r2 = await replay(third.refresh_token);
      assert.equal(r2.status, 400, 'the current refresh token died with its grant');
      assert.equal((await r2.json()).error, 'invalid_grant');

      // The authorization code was single use: the SDK exchanging it again fails.
      await assert.rejects(
        auth(provider, { serverUrl: S.mcpUrl, authorizationCode: code }),
        (e) => e.constructor.name === 'InvalidGrantError' && /already used/.test(e.message),
      );
    });
  });

  describe('accounts not on the allow-list end with access_denied', () => {
    for (const [what, login, id] of [
      ['another account', 'mallory', 31337],
      ['the allowed login with another id (renamed and re-registered)', null, 99_999_999],
    ]) {
      test(what, async () => {
        const jar = new CookieJar();
        const who = login ?? S.allowedLogin;
        // Sign in to the stand-in GitHub as that account (a cookie, like github.com's session).
        const signIn = await fetch(`${S.githubUrl}/__e2e/sign-in?login=${who}&id=${id}`);
        jar.store(signIn);
        const provider = new HeadlessProvider({ redirectUrl, jar });
        assert.equal(await auth(provider, { serverUrl: S.mcpUrl }), 'REDIRECT');
        const p = landingParams(provider);
        assert.equal(p.error, 'access_denied', `landed at ${provider.landing}`);
        assert.equal(p.code, undefined);
        assert.equal(p.state, provider.states.at(-1));
        assert.equal(p.iss, S.base);
        assert.equal(provider.tokens(), undefined);
      });
    }
  });
});
