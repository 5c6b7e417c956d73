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
// CORS, as browser-based MCP clients meet it: pages served here on another loopback port call
// /mcp with fetch() and an Authorization header (so the browser sends a preflight first). From
// http://127.0.0.1:<page port> (a loopback origin) and http://app.test:<page port> (listed in
// the server's VAULTMCP_ALLOWED_ORIGINS) the calls work and the page can read Mcp-Session-Id
// and the 401's WWW-Authenticate; from http://evil.test:<page port> the browser blocks them.
// Chromium resolves app.test and evil.test to 127.0.0.1 (--host-resolver-rules).
//
// Run: VAULTMCP_OAUTH_URL=http://127.0.0.1:PORT/mcp FAKE_GITHUB_URL=http://127.0.0.1:GH \
//      CORS_PAGE_PORT=P node --test browser.test.mjs   (scripts/e2e.sh starts both servers,
//      with VAULTMCP_ALLOWED_ORIGINS=http://app.test:P, and sets these).
// CHROMIUM overrides the browser path (default /usr/bin/chromium).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
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
const PAGE_PORT = Number(process.env.CORS_PAGE_PORT);

/** Serves one empty page on 127.0.0.1:PAGE_PORT under any host name (the pages' origins). */
async function startPageServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>a browser-based MCP client</title><p>page</p>\n');
  });
  await new Promise((resolve) => server.listen(PAGE_PORT, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Runs in the page: a fetch() to the MCP endpoint as a browser-based client makes it. Returns
 * what the page could see: status and the exposed headers, or the browser's error.
 */
async function pageFetch({ url, token, body, headers }) {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      session: res.headers.get('mcp-session-id'),
      challenge: res.headers.get('www-authenticate'),
      text: await res.text(),
    };
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1.0.0' } },
};

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
  let pages;
  let accessToken; // from the approve test, for the CORS test

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    assert.ok(PAGE_PORT > 0, 'set CORS_PAGE_PORT (scripts/e2e.sh does)');
    pages = await startPageServer();
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
        '--host-resolver-rules=MAP app.test 127.0.0.1, MAP evil.test 127.0.0.1',
      ],
      timeout: TIMEOUT,
    });
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
    await pages?.close();
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
      accessToken = tokens.access_token;

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
  test('CORS: pages on other origins call /mcp with fetch(); a foreign origin is blocked', { timeout: TIMEOUT }, async () => {
    assert.ok(accessToken, 'the approve test got a token');
    const context = await browser.newContext();
    try {
      for (const origin of [`http://127.0.0.1:${PAGE_PORT}`, `http://app.test:${PAGE_PORT}`]) {
        const page = await context.newPage();
        await page.goto(`${origin}/`);
        assert.equal(await page.evaluate(() => location.origin), origin);

        // A session: initialize with the token; the page reads Mcp-Session-Id.
        const init = await page.evaluate(pageFetch, { url: S.mcpUrl, token: accessToken, body: INITIALIZE });
        assert.equal(init.error, undefined, `${origin}: ${init.error}`);
        assert.equal(init.status, 200, `${origin}: ${init.text}`);
        assert.ok(init.session, `${origin}: Mcp-Session-Id is exposed to the page`);
        assert.match(init.text, /"vaultmcp"/);

        // 2026-07-28: Mcp-Method and Mcp-Name go through the preflight too.
        const meta = {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'page', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': {},
        };
        const search = await page.evaluate(pageFetch, {
          url: S.mcpUrl,
          token: accessToken,
          headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'search' },
          body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search', arguments: { query: 'Zettelkasten' }, _meta: meta } },
        });
        assert.equal(search.status, 200, `${origin}: ${search.error ?? search.text}`);
        assert.match(search.text, /Zettelkasten Method\.md/);

        // Without a token: the 401's challenge is readable, so the page can start OAuth.
        const denied = await page.evaluate(pageFetch, { url: S.mcpUrl, body: INITIALIZE });
        assert.equal(denied.status, 401, `${origin}: ${denied.error ?? denied.text}`);
        assert.equal(
          denied.challenge,
          `Bearer resource_metadata="${S.base}/.well-known/oauth-protected-resource/mcp", scope="notes:read"`,
        );
        await page.close();
      }

      // A foreign origin: the preflight gets 403 without Access-Control-Allow-Origin, so the
      // browser never sends the request (or lets the page read anything).
      const page = await context.newPage();
      const evil = `http://evil.test:${PAGE_PORT}`;
      await page.goto(`${evil}/`);
      const blocked = await page.evaluate(pageFetch, { url: S.mcpUrl, token: accessToken, body: INITIALIZE });
      assert.match(blocked.error ?? '', /^TypeError: Failed to fetch/, JSON.stringify(blocked));
      const preflight = await fetch(S.mcpUrl, {
        method: 'OPTIONS',
        headers: { origin: evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 403);
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    } finally {
      await context.close();
    }
  });
});
