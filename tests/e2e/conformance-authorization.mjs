// The MCP conformance suite's authorization-server scenarios (`conformance authorization`:
// metadata, then the authorization-code grant) against a `vaultmcp serve --local-login`, with
// the consent page approved here, as a person would.
//
// It registers a public client for the suite's callback (http://127.0.0.1:<port>/callback),
// starts the suite, waits for the /authorize URL it prints, drives that URL like a browser
// (oauth-helpers.mjs driveAuthorization: GET the consent page, keep its CSRF cookie, POST the
// form's fields with decision=approve, follow redirects) up to the callback, and delivers the
// callback to the suite, which then exchanges the code. Exits with the suite's status.
//
// Run (scripts/e2e.sh does): VAULTMCP_AUTHZ_ISSUER=http://127.0.0.1:PORT \
//   CONFORMANCE_OUTPUT_DIR=artifacts/conformance-authorization node conformance-authorization.mjs
// with node_modules/.bin first on PATH (the suite needs Node 22).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { driveAuthorization, freePort } from './oauth-helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const issuer = process.env.VAULTMCP_AUTHZ_ISSUER;
const outputDir = process.env.CONFORMANCE_OUTPUT_DIR;
if (!issuer || !outputDir) {
  console.error('set VAULTMCP_AUTHZ_ISSUER (a `vaultmcp serve --local-login` base URL) and CONFORMANCE_OUTPUT_DIR');
  process.exit(2);
}
// The whole run is bounded: the suite itself waits up to 5 minutes for a callback.
const DEADLINE_MS = 120_000;

const port = await freePort();
const callback = `http://127.0.0.1:${port}/callback`;
const reg = await fetch(`${issuer}/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: JSON.stringify({
    client_name: 'MCP conformance suite',
    redirect_uris: [callback],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }),
});
const client = await reg.json();
assert.equal(reg.status, 201, JSON.stringify(client));
console.log(`registered client ${client.client_id} for ${callback}`);

const suite = spawn(
  join(HERE, 'node_modules', '.bin', 'conformance'),
  [
    'authorization',
    '--url', issuer,
    '--client-id', client.client_id,
    '--resource', `${issuer}/mcp`,
    '-p', String(port),
    '-o', outputDir,
  ],
  { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] },
);
const timer = setTimeout(() => {
  console.error(`conformance authorization: no result within ${DEADLINE_MS / 1000} s`);
  suite.kill('SIGTERM');
}, DEADLINE_MS);

let approvals = 0;
let approving = Promise.resolve();
createInterface({ input: suite.stdout }).on('line', (line) => {
  console.log(line);
  const m = /^\s*(https?:\/\/\S+\/authorize\?\S+)\s*$/.exec(line);
  if (!m) return;
  approving = approving.then(async () => {
    const { url, consent, hops } = await driveAuthorization(m[1], { stopAt: callback });
    assert.ok(consent, 'the consent page was shown');
    assert.match(consent.html, /MCP conformance suite/, 'the consent page names the client');
    console.log(`consent approved (${hops.join(' → ')}); delivering ${url.origin}${url.pathname}`);
    // The suite's callback server gets the code. The suite prints the authorization URL
    // before it starts that server ("Callback server started" comes after), so a refused
    // connection is retried, for 5 s at most.
    let res;
    for (let attempt = 0; ; attempt += 1) {
      try {
        res = await fetch(url);
        break;
      } catch (e) {
        if (attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(res.status, 200, `the suite's callback answered ${res.status}`);
    approvals += 1;
  }).catch((e) => {
    console.error(`approving the consent page failed: ${e.stack ?? e}`);
    suite.kill('SIGTERM');
  });
});

const code = await new Promise((resolve) => suite.on('close', (c, signal) => resolve(signal ? 1 : c)));
clearTimeout(timer);
await approving;
console.log(`consent pages approved: ${approvals}; suite exit status ${code}`);
process.exit(approvals > 0 ? code : 1);
