// An emulated ChatGPT against the real binary (issue 8): ChatGPT's connector metadata document
// and JWKS served from 127.0.0.1 (the server runs with VAULTMCP_ALLOW_LOOPBACK_FETCH=1), the
// consent page and the stand-in GitHub, and every token request authenticated with an RS256
// client assertion (RFC 7523) signed the way ChatGPT signs it. Then search and fetch through the
// MCP TypeScript SDK with the token, and a refresh with a fresh assertion.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { chatgptPayload, checkSearchShape, driveAuthorization, pkce, settings } from './oauth-helpers.mjs';

const S = settings();
const REDIRECT = 'https://chatgpt.com/connector/oauth/e2e-connector';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'chatgpt-e2e-1';

let server;
let base;
let clientId;

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

/** An RS256 client assertion as ChatGPT sends one; `overrides` change claims. */
function assertion(overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: clientId, sub: clientId, aud: `${S.base}/token`,
    iat: now, exp: now + 300, jti: randomUUID(), ...overrides,
  };
  const input = `${b64url({ alg: 'RS256', kid: KID, typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

async function token(params) {
  const res = await fetch(`${S.base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.json() };
}

describe('emulated ChatGPT (private_key_jwt metadata document) → vaultmcp binary', () => {
  before(async () => {
    server = createServer((req, res) => {
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, use: 'sig', alg: 'RS256' };
      const docs = {
        '/oauth/e2e-connector/client.json': {
          client_id: `${base}/oauth/e2e-connector/client.json`,
          client_uri: 'https://chatgpt.com/',
          client_name: 'ChatGPT',
          logo_uri: 'https://persistent.oaistatic.com/sonic/misc/openai-logo.png',
          redirect_uris: [REDIRECT],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'RS256',
          jwks_uri: `${base}/oauth/jwks.json`,
        },
        '/oauth/jwks.json': { keys: [jwk] },
      };
      const doc = docs[new URL(req.url, 'http://x').pathname];
      res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc ?? {}));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
    clientId = `${base}/oauth/e2e-connector/client.json`;
  });
  after(() => server?.close());

  test('consent, GitHub, code for an assertion, search and fetch, refresh', async () => {
    const p = pkce();
    const authorize = new URL(`${S.base}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 'gpt-state',
      code_challenge: p.challenge, code_challenge_method: 'S256', resource: S.mcpUrl,
    })) authorize.searchParams.set(k, v);
    // ChatGPT may leave `scope` out on reconnect; the server defaults it.
    const { url, consent } = await driveAuthorization(authorize, { stopAt: REDIRECT });
    assert.match(consent.html, /<strong id="client-name">ChatGPT<\/strong>/);
    assert.match(consent.html, /<strong id="redirect-host">chatgpt\.com<\/strong>/);
    assert.doesNotMatch(consent.html, /oaistatic|<img/);
    assert.equal(url.searchParams.get('state'), 'gpt-state');
    assert.equal(url.searchParams.get('iss'), S.base);
    const code = url.searchParams.get('code');
    assert.ok(code, `a code in ${url}`);

    const exchange = (a) => token({
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId,
      code_verifier: p.verifier, resource: S.mcpUrl,
      client_assertion_type: JWT_BEARER, client_assertion: a,
    });
    // A bad assertion is invalid_client and leaves the code usable.
    for (const [what, a] of [
      ['wrong audience', assertion({ aud: 'https://elsewhere.example/token' })],
      ['expired', assertion({ iat: Math.floor(Date.now() / 1000) - 900, exp: Math.floor(Date.now() / 1000) - 600 })],
      ['garbage', 'not.a.jwt'],
    ]) {
      const r = await exchange(a);
      assert.deepEqual([r.status, r.body.error], [401, 'invalid_client'], what);
    }
    const spent = assertion();
    const ok = await exchange(spent);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const replay = await token({
      grant_type: 'refresh_token', refresh_token: ok.body.refresh_token,
      client_assertion_type: JWT_BEARER, client_assertion: spent,
    });
    assert.deepEqual([replay.status, replay.body.error], [401, 'invalid_client'], 'a replayed assertion');

    const client = new Client({ name: 'chatgpt-emulation', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(S.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${ok.body.access_token}` } },
    });
    await client.connect(transport);
    const hits = checkSearchShape(await client.callTool({ name: 'search', arguments: { query: 'Zettelkasten' } }));
    const note = chatgptPayload(await client.callTool({ name: 'fetch', arguments: { id: hits[0].id } }));
    assert.equal(note.id, hits[0].id);
    assert.ok(note.text.length > 0);
    await client.close();

    const refreshed = await token({
      grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, client_id: clientId,
      client_assertion_type: JWT_BEARER, client_assertion: assertion(),
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.refresh_token, ok.body.refresh_token);
  });
});
