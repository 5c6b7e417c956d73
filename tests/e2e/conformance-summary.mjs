// Restates a `conformance server` run against the baseline (conformance-expected-failures.yml):
// one line per scenario (pass, n/a, pass with k checks n/a, FAIL with the unexpected checks,
// STALE for baseline entries that now pass) and the counts. The suite's own summary counts the
// scenarios that do not apply as failures; this one does not. Exits 1 on any FAIL or STALE.
//
//   node conformance-summary.mjs RESULTS_DIR BASELINE.yml
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, baselineFile] = process.argv.slice(2);
if (!resultsDir || !baselineFile) {
  console.error('usage: node conformance-summary.mjs RESULTS_DIR BASELINE.yml');
  process.exit(2);
}

// The baseline's `server:` list: `- scenario` or `- scenario:check-id` (comments ignored).
const whole = new Set();
const perCheck = new Map();
let inServer = false;
for (const raw of readFileSync(baselineFile, 'utf8').split('\n')) {
  const line = raw.replace(/#.*$/, '').trimEnd();
  if (/^\S/.test(line)) inServer = line.startsWith('server:');
  const m = /^\s+-\s+(\S+)$/.exec(line);
  if (!inServer || !m) continue;
  const [scenario, check] = m[1].split(/:(.*)/s);
  if (check) perCheck.set(scenario, new Set([...(perCheck.get(scenario) ?? []), check]));
  else whole.add(scenario);
}

// Result folders are `server-<scenario>-<timestamp>`; the newest per scenario counts.
const latest = new Map();
for (const dir of readdirSync(resultsDir).sort()) {
  const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir);
  if (m) latest.set(m[1], join(resultsDir, dir, 'checks.json'));
}

const bad = (c) => c.status === 'FAILURE' || c.status === 'WARNING';
const counts = { pass: 0, na: 0, fail: 0, stale: 0 };
for (const [scenario, file] of [...latest].sort()) {
  const checks = JSON.parse(readFileSync(file, 'utf8'));
  const failing = checks.filter(bad).map((c) => c.id);
  if (whole.has(scenario)) {
    if (failing.length === 0) {
      counts.stale++;
      console.log(`  STALE  ${scenario} (listed as not applicable, but every check passes)`);
    } else {
      counts.na++;
      console.log(`  n/a    ${scenario}`);
    }
    continue;
  }
  const expected = perCheck.get(scenario) ?? new Set();
  const unexpected = failing.filter((id) => !expected.has(id));
  const stale = [...expected].filter((id) => !failing.includes(id));
  if (unexpected.length > 0) {
    counts.fail++;
    const detail = checks
      .filter((c) => unexpected.includes(c.id))
      .map((c) => `${c.id} (${c.status}${c.errorMessage ? `: ${c.errorMessage.slice(0, 200)}` : ''})`);
    console.log(`  FAIL   ${scenario}: ${detail.join('; ')}`);
  } else if (stale.length > 0) {
    counts.stale++;
    console.log(`  STALE  ${scenario}: ${stale.join(', ')} now pass`);
  } else {
    counts.pass++;
    const na = expected.size > 0 ? ` (${expected.size} of ${checks.length} checks n/a)` : '';
    console.log(`  pass   ${scenario}${na}`);
  }
}
for (const scenario of [...whole, ...perCheck.keys()]) {
  if (!latest.has(scenario)) {
    counts.stale++;
    console.log(`  STALE  ${scenario} (in the baseline, but the suite ran no such scenario)`);
  }
}
console.log(
  `conformance: ${counts.pass} applicable scenarios pass, ${counts.fail} fail; ` +
    `${counts.na} not applicable; ${counts.stale} stale baseline entries`,
);
process.exit(counts.fail + counts.stale > 0 ? 1 : 0);
