// ChatGPT's tool-result shapes, checked the same way by every end-to-end test.
import assert from 'node:assert/strict';

/** The tool result's one text item, parsed; checks structuredContent is the same object. */
export function chatgptPayload(result) {
  assert.equal(result.isError ?? false, false, JSON.stringify(result));
  assert.equal(result.content.length, 1, 'exactly one content item');
  assert.equal(result.content[0].type, 'text');
  const parsed = JSON.parse(result.content[0].text);
  assert.deepEqual(result.structuredContent, parsed, 'structuredContent equals the text JSON');
  return parsed;
}

/** ChatGPT's search shape: {results: [{id, title, url, snippet}]}, at most 10. */
export function checkSearchShape(result) {
  const parsed = chatgptPayload(result);
  assert.deepEqual(Object.keys(parsed), ['results']);
  assert.ok(Array.isArray(parsed.results));
  assert.ok(parsed.results.length >= 1, 'at least one hit');
  assert.ok(parsed.results.length <= 10, `at most 10 hits, got ${parsed.results.length}`);
  for (const hit of parsed.results) {
    assert.deepEqual(Object.keys(hit).sort(), ['id', 'snippet', 'title', 'url']);
    for (const k of ['id', 'title', 'url', 'snippet']) assert.equal(typeof hit[k], 'string', k);
    assert.match(hit.id, /\.md$/);
    assert.match(hit.url, /^obsidian:\/\/open\?vault=vault-fixtures&file=/);
  }
  return parsed.results;
}
