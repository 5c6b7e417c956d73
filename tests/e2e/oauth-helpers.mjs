// Shared pieces of the OAuth end-to-end tests (oauth-client.test.mjs, browser.test.mjs): the
// settings scripts/e2e.sh passes in, a cookie jar, a headless "browser" that follows redirects
// and submits vaultmcp's consent form, PKCE, and the ChatGPT search-shape check.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

/** Settings from the environment (scripts/e2e.sh sets them). */
export function settings() {
  const mcpUrl = process.env.VAULTMCP_OAUTH_URL;
  const githubUrl = process.env.FAKE_GITHUB_URL;
  if (!mcpUrl || !githubUrl) {
    throw new Error(
      'set VAULTMCP_OAUTH_URL (the MCP endpoint of a `vaultmcp serve` in GitHub mode) and FAKE_GITHUB_URL ' +
        '(its stand-in GitHub, tests/e2e/fake-github.mjs); scripts/e2e.sh does both',
    );
  }
  const base = new URL(mcpUrl).origin;
  return {
    mcpUrl,
    base,
    githubUrl,
    allowedId: Number(process.env.FAKE_GITHUB_ID ?? 4242),
    allowedLogin: process.env.FAKE_GITHUB_LOGIN ?? 'e2e-owner',
  };
}

/** S256 PKCE pair. */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export function randomState() {
  return randomBytes(16).toString('base64url');
}

/**
 * Cookies for one "browser". Every server in these tests is on 127.0.0.1, and cookies are scoped
 * by host, not port, so one jar without domain matching is what a browser would do here.
 */
export class CookieJar {
  #cookies = new Map();

  /** Stores the Set-Cookie headers of a response (Max-Age=0 deletes). */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const maxAge = attrs
        .map((a) => a.trim().split('='))
        .find(([k]) => k.toLowerCase() === 'max-age');
      if (maxAge && Number(maxAge[1]) <= 0) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name) {
    return this.#cookies.get(name);
  }
}

function unescapeHtml(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The consent page's form: its action, method and hidden fields, and the buttons. */
export function parseConsentForm(html) {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  assert.equal(forms.length, 1, 'the consent page has exactly one form');
  const [, attrs, body] = forms[0];
  const attr = (s, name) => {
    const m = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(s);
    return m ? unescapeHtml(m[1]) : undefined;
  };
  const fields = {};
  for (const [input] of body.matchAll(/<input\b[^>]*>/gi)) {
    if (attr(input, 'type') !== 'hidden') continue;
    fields[attr(input, 'name')] = attr(input, 'value') ?? '';
  }
  const buttons = [...body.matchAll(/<button\b[^>]*>/gi)].map(([b]) => ({
    name: attr(b, 'name'),
    value: attr(b, 'value'),
  }));
  return { action: attr(attrs, 'action'), method: attr(attrs, 'method'), fields, buttons };
}

/**
 * A headless user agent: follows redirects itself (fetch with redirect: "manual"), keeps
 * cookies, and submits vaultmcp's consent form with `decision`. Stops at the first URL under
 * `stopAt` (the client's redirect URI) without requesting it. Returns
 * { url: URL where it stopped, consent: {html, form} | undefined, hops: [urls] }.
 */
export async function driveAuthorization(authorizationUrl, { stopAt, decision = 'approve', jar = new CookieJar(), onConsent } = {}) {
  let next = { url: new URL(authorizationUrl), init: { method: 'GET' } };
  const hops = [];
  let consent;
  for (let i = 0; i < 12; i++) {
    const url = next.url;
    if (url.href.startsWith(String(stopAt))) return { url, consent, hops };
    hops.push(`${next.init.method} ${url.origin}${url.pathname}`);
    const headers = { ...(next.init.headers ?? {}), accept: 'text/html' };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...next.init, headers, redirect: 'manual' });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      assert.ok(location, `${res.status} without Location from ${url}`);
      // 303 (and 302 after a GET) continue as GET.
      next = { url: new URL(location, url), init: { method: 'GET' } };
      continue;
    }
    const body = await res.text();
    if (res.status === 200 && url.pathname === '/authorize' && next.init.method === 'GET') {
      const form = parseConsentForm(body);
      consent = { html: body, form, headers: res.headers };
      await onConsent?.(consent);
      assert.equal(form.method.toLowerCase(), 'post');
      assert.ok(form.fields.csrf_token, 'the form carries a csrf_token');
      assert.ok(
        form.buttons.some((b) => b.name === 'decision' && b.value === decision),
        `the form has a ${decision} button`,
      );
      const params = new URLSearchParams({ ...form.fields, decision });
      next = {
        url: new URL(form.action, url),
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin },
          body: params.toString(),
        },
      };
      continue;
    }
    throw new Error(`unexpected ${res.status} at ${next.init.method} ${url}: ${body.slice(0, 500)}`);
  }
  throw new Error(`too many redirects: ${hops.join(' → ')}`);
}

/** A tiny HTTP server on 127.0.0.1 that records requests and answers 200 (a client's redirect URI). */
export async function startRedirectReceiver() {
  const hits = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    hits.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>client</title><p>Signed in; you can close this window.</p>\n');
    for (const w of waiters.splice(0)) w(url);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/callback`;
  return {
    url,
    hits,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A free TCP port on 127.0.0.1 (for redirect URIs nobody listens on). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Decodes a JWT's header and claims (no verification: the server checks signatures). */
export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

export { chatgptPayload, checkSearchShape } from './chatgpt-shapes.mjs';
