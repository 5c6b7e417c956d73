// A stand-in for github.com and api.github.com for the OAuth end-to-end tests: a real HTTP
// server on 127.0.0.1 (node:http, no dependencies) that behaves like GitHub's OAuth App flow as
// vaultmcp uses it. It mirrors tests/auth_support/github.rs (the Rust tests' stand-in):
//
//   GET  /login/oauth/authorize?client_id&redirect_uri&state&code_challenge&code_challenge_method
//        The person is already signed in and approves at once: 302 to redirect_uri with a fresh
//        single-use code and the state. An unknown client_id is a 404 page, a redirect_uri
//        outside the app's callback URL (FAKE_GH_CALLBACK_URL, when set) a 400 page, and a
//        code_challenge_method other than S256 a 400 page.
//   POST /login/oauth/access_token   (form or JSON body; client credentials in the body or Basic)
//        Checks client_id/client_secret, the code (single use), redirect_uri and the PKCE S256
//        verifier. Answers {"access_token":"gho_…","token_type":"bearer","scope":""} when the
//        request says Accept: application/json (form-encoded otherwise, like GitHub), and GitHub's
//        HTTP-200 {"error":"bad_verification_code",...} for unknown, reused or mis-verified codes.
//   GET  /user  with Authorization: Bearer <token> (or `token <token>`)
//        {"login","id",...} for a token it issued, else 401 {"message":"Bad credentials"}.
//
// Who is signed in: the configured user (FAKE_GH_LOGIN / FAKE_GH_ID), unless the browser carries
// the cookie `fake_gh_user=<login>:<id>`, which GET /__e2e/sign-in?login=…&id=… sets (like
// signing in to github.com as someone else; per browser, so concurrent tests do not interfere).
// The user is bound to the code at authorize time. GET /__e2e/requests lists what the server
// sent to /login/oauth/authorize and /login/oauth/access_token (secrets masked), for assertions.
//
// Run standalone: `node fake-github.mjs` prints one JSON line {"url": "http://127.0.0.1:PORT"} on
// stdout (and writes it to FAKE_GH_URL_FILE when set), then serves until SIGTERM/SIGINT.
// Environment: FAKE_GH_CLIENT_ID, FAKE_GH_CLIENT_SECRET, FAKE_GH_LOGIN, FAKE_GH_ID,
// FAKE_GH_CALLBACK_URL (optional), FAKE_GH_PORT (optional, default: a free port).
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const USER_COOKIE = 'fake_gh_user';

function random(n = 16) {
  return randomBytes(n).toString('base64url');
}

function s256(verifier) {
  return createHash('sha256').update(verifier).digest('base64url');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * Starts the stand-in. Returns { url, close(), state } where state exposes the codes, tokens
 * and recorded requests.
 */
export async function startFakeGitHub({
  clientId = 'e2e-client',
  clientSecret = 'e2e-secret',
  login = 'e2e-owner',
  id = 4242,
  callbackUrl = undefined,
  port = 0,
} = {}) {
  /** code → { redirectUri, challenge, method, user: {login, id}, used } */
  const codes = new Map();
  /** token → { login, id } */
  const tokens = new Map();
  const requests = [];

  function signedIn(req) {
    const c = cookies(req)[USER_COOKIE];
    if (c) {
      const v = decodeURIComponent(c);
      const i = v.lastIndexOf(':');
      const uid = Number(v.slice(i + 1));
      if (i > 0 && Number.isSafeInteger(uid)) return { login: v.slice(0, i), id: uid };
    }
    return { login, id };
  }

  function send(res, status, body, headers = {}) {
    const isJson = typeof body !== 'string';
    res.writeHead(status, {
      'content-type': isJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(isJson ? JSON.stringify(body) : body);
  }

  function page(res, status, message) {
    send(res, status, `<!doctype html><title>GitHub (stand-in)</title><p>${message}</p>\n`);
  }

  function authorize(req, res, q) {
    requests.push({
      endpoint: 'authorize',
      params: Object.fromEntries(q),
    });
    if (q.get('client_id') !== clientId) return page(res, 404, 'unknown OAuth app');
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return page(res, 400, 'no redirect_uri');
    if (callbackUrl && !redirectUri.startsWith(callbackUrl)) {
      return page(res, 400, 'The redirect_uri is not associated with this application.');
    }
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method');
    if (challenge !== null && method !== 'S256') return page(res, 400, 'bad code_challenge_method');
    const code = random();
    codes.set(code, { redirectUri, challenge, user: signedIn(req), used: false });
    const to = new URL(redirectUri);
    to.searchParams.append('code', code);
    to.searchParams.append('state', q.get('state') ?? '');
    res.writeHead(302, { location: to.href, 'cache-control': 'no-store' });
    res.end();
  }

  async function accessToken(req, res) {
    const raw = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    let f;
    if (type.includes('application/json')) {
      try {
        f = new Map(Object.entries(JSON.parse(raw)).map(([k, v]) => [k, String(v)]));
      } catch {
        return send(res, 400, { message: 'Problems parsing JSON' });
      }
    } else {
      f = new Map(new URLSearchParams(raw));
    }
    let [cid, secret] = [f.get('client_id'), f.get('client_secret')];
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const d = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = d.indexOf(':');
      [cid, secret] = [decodeURIComponent(d.slice(0, i)), decodeURIComponent(d.slice(i + 1))];
    }
    const wantsJson = (req.headers.accept ?? '').includes('application/json');
    requests.push({
      endpoint: 'access_token',
      accept: req.headers.accept ?? '',
      params: Object.fromEntries(
        [...f].map(([k, v]) => [k, k === 'client_secret' || k === 'code_verifier' ? '***' : v]),
      ),
      basicAuth: Boolean(basic),
    });
    // GitHub reports token-endpoint errors with HTTP 200.
    const answer = (body) => {
      if (wantsJson) return send(res, 200, body);
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
      res.end(new URLSearchParams(body).toString());
    };
    const error = (e, description) =>
      answer({
        error: e,
        error_description: description,
        error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
      });
    if (cid !== clientId || secret !== clientSecret) {
      return error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    }
    const code = f.get('code') ?? '';
    const c = codes.get(code);
    if (!c || c.used) return error('bad_verification_code', 'The code passed is incorrect or expired.');
    c.used = true;
    if (f.has('redirect_uri') && f.get('redirect_uri') !== c.redirectUri) {
      return error(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
      );
    }
    if (c.challenge !== null && s256(f.get('code_verifier') ?? '') !== c.challenge) {
      return error('bad_verification_code', 'The code_verifier does not match the code_challenge.');
    }
    const token = `gho_${random(27)}`;
    tokens.set(token, c.user);
    answer({ access_token: token, token_type: 'bearer', scope: '' });
  }

  function user(req, res) {
    const m = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '');
    const u = m && tokens.get(m[1]);
    if (!u) {
      return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    send(res, 200, {
      login: u.login,
      id: u.id,
      node_id: `U_e2e${u.id}`,
      type: 'User',
      site_admin: false,
      name: null,
    });
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /login/oauth/authorize') return authorize(req, res, url.searchParams);
      if (route === 'POST /login/oauth/access_token') return await accessToken(req, res);
      if (route === 'GET /user') return user(req, res);
      if (route === 'GET /__e2e/sign-in') {
        const who = `${url.searchParams.get('login')}:${url.searchParams.get('id')}`;
        return send(res, 200, { signed_in: who }, {
          'set-cookie': `${USER_COOKIE}=${encodeURIComponent(who)}; Path=/; HttpOnly; SameSite=Lax`,
        });
      }
      if (route === 'GET /__e2e/requests') return send(res, 200, requests);
      send(res, 404, { message: 'Not Found' });
    } catch (e) {
      if (!res.headersSent) send(res, 500, { message: String(e) });
      else res.destroy();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    state: { codes, tokens, requests },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const gh = await startFakeGitHub({
    clientId: env.FAKE_GH_CLIENT_ID ?? 'e2e-client',
    clientSecret: env.FAKE_GH_CLIENT_SECRET ?? 'e2e-secret',
    login: env.FAKE_GH_LOGIN ?? 'e2e-owner',
    id: Number(env.FAKE_GH_ID ?? 4242),
    callbackUrl: env.FAKE_GH_CALLBACK_URL || undefined,
    port: Number(env.FAKE_GH_PORT ?? 0),
  });
  const line = JSON.stringify({ url: gh.url });
  if (env.FAKE_GH_URL_FILE) writeFileSync(env.FAKE_GH_URL_FILE, `${line}\n`);
  process.stdout.write(`${line}\n`);
  const stop = async () => {
    await gh.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
