// A real browser through vaultmcp's authorization flow: headless Chromium (playwright-core,
// the machine's /usr/bin/chromium; never a downloaded browser) against `vaultmcp serve` in GitHub
// mode with the stand-in GitHub (fake-github.mjs).
//
// A client registers over HTTP (POST /register) with a redirect URI served by a tiny HTTP server
// here, the browser opens the authorize URL, shows the consent page (its screenshot is kept as
// tests/e2e/artifacts/consent.png), clicks Approve, passes the stand-in GitHub and lands on the
// redirect URI with code, state and iss; the code is exchanged at /token and the access token
// calls MCP `search`. Deny lands with error=access_denied.
//
// Run: VAULTMCP_OAUTH_URL=http://127.0.0.1:PORT/mcp FAKE_GITHUB_URL=http://127.0.0.1:GH \
//      node --test browser.test.mjs   (scripts/e2e.sh starts both servers and sets these).
// CHROMIUM overrides the browser path (default /usr/bin/chromium).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { checkSearchShape, decodeJwt, pkce, randomState, settings, startRedirectReceiver } from './oauth-helpers.mjs';

const S = settings();
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CLIENT_NAME = 'Browser E2E Client';
const TIMEOUT = 60_000;

async function register(redirectUri) {
  const res = await fetch(`${S.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      client_name: CLIENT_NAME,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

function authorizeUrl(clientId, redirectUri, state, challenge) {
  const u = new URL(`${S.base}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: `${S.base}/mcp`,
    scope: 'notes:read',
  })) {
    u.searchParams.set(k, v);
  }
  return u.href;
}

describe('headless Chromium through consent and the stand-in GitHub', { timeout: TIMEOUT * 2 }, () => {
  let browser;
  let receiver;
  let client;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    receiver = await startRedirectReceiver();
    client = await register(receiver.url);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: TIMEOUT,
    });
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
  });

  test('approve: consent page, GitHub, back at the redirect URI with a code; token; MCP search', { timeout: TIMEOUT }, async () => {
    const { verifier, challenge } = pkce();
    const state = randomState();
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      const response = await page.goto(authorizeUrl(client.client_id, receiver.url, state, challenge));
      assert.equal(response.status(), 200);
      assert.equal(response.headers()['x-frame-options'], 'DENY');
      assert.equal(await page.title(), 'Allow access to your notes?');
      assert.equal(await page.textContent('#client-name'), CLIENT_NAME);
      assert.equal(await page.textContent('#redirect-host'), new URL(receiver.url).host);
      assert.match(await page.textContent('main'), /GitHub asks you to sign in/);
      assert.ok(await page.isVisible('button[value=approve]'));
      assert.ok(await page.isVisible('button[value=deny]'));
      await page.screenshot({ path: join(ARTIFACTS, 'consent.png'), fullPage: true });

      const landed = receiver.next();
      await Promise.all([
        page.waitForURL((u) => u.href.startsWith(receiver.url), { timeout: TIMEOUT }),
        page.click('button[value=approve]'),
      ]);
      const at = await landed; // what the client's server received
      const url = new URL(page.url());
      assert.equal(url.href, at.href);
      assert.equal(await page.textContent('p'), 'Signed in; you can close this window.');
      const p = Object.fromEntries(url.searchParams);
      assert.ok(p.code, `a code at ${url}`);
      assert.equal(p.error, undefined);
      assert.equal(p.state, state);
      assert.equal(p.iss, S.base);

      // The browser passed the stand-in GitHub on the way.
      const gh = await (await fetch(`${S.githubUrl}/__e2e/requests`)).json();
      const ghAuthz = gh.filter((r) => r.endpoint === 'authorize').at(-1).params;
      assert.equal(ghAuthz.redirect_uri, `${S.base}/oauth/github/callback`);

      // The client exchanges the code.
      const tokenRes = await fetch(`${S.base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: p.code,
          redirect_uri: receiver.url,
          client_id: client.client_id,
          code_verifier: verifier,
          resource: `${S.base}/mcp`,
        }),
      });
      const tokens = await tokenRes.json();
      assert.equal(tokenRes.status, 200, JSON.stringify(tokens));
      assert.equal(tokenRes.headers.get('cache-control'), 'no-store');
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.refresh_token);
      const { claims } = decodeJwt(tokens.access_token);
      assert.equal(claims.sub, `github:${S.allowedId}`);
      assert.equal(claims.client_id, client.client_id);
      assert.equal(claims.aud, `${S.base}/mcp`);

      // And reads the vault with it.
      const mcp = new Client({ name: 'vaultmcp-e2e-browser', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(S.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } },
      });
      await mcp.connect(transport);
      try {
        const hits = checkSearchShape(
          await mcp.callTool({ name: 'search', arguments: { query: 'Zettelkasten' } }),
        );
        assert.ok(hits.some((h) => h.id === 'topics/Zettelkasten Method.md'), JSON.stringify(hits));
      } finally {
        await transport.terminateSession().catch(() => {});
        await mcp.close();
      }
    } finally {
      await context.close();
    }
  });

  test('deny: back at the redirect URI with error=access_denied, state and iss', { timeout: TIMEOUT }, async () => {
    const { challenge } = pkce();
    const state = randomState();
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(authorizeUrl(client.client_id, receiver.url, state, challenge));
      assert.equal(await page.textContent('#client-name'), CLIENT_NAME);
      const ghBefore = (await (await fetch(`${S.githubUrl}/__e2e/requests`)).json()).length;
      await Promise.all([
        page.waitForURL((u) => u.href.startsWith(receiver.url), { timeout: TIMEOUT }),
        page.click('button[value=deny]'),
      ]);
      const p = Object.fromEntries(new URL(page.url()).searchParams);
      assert.equal(p.error, 'access_denied', page.url());
      assert.equal(p.code, undefined);
      assert.equal(p.state, state);
      assert.equal(p.iss, S.base);
      const ghAfter = (await (await fetch(`${S.githubUrl}/__e2e/requests`)).json()).length;
      assert.equal(ghAfter, ghBefore, 'denying never reaches GitHub');
    } finally {
      await context.close();
    }
  });
});
