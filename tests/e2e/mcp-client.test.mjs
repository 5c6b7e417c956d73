// The official TypeScript SDK client against a running `vaultmcp serve --no-auth` on
// vault-fixtures. Run: VAULTMCP_URL=http://127.0.0.1:PORT/mcp node --test mcp-client.test.mjs
// (scripts/e2e.sh starts the server and sets the URL).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { chatgptPayload, checkSearchShape } from './chatgpt-shapes.mjs';

const URL_ = process.env.VAULTMCP_URL;
if (!URL_) {
  throw new Error('set VAULTMCP_URL to the server MCP endpoint, e.g. http://127.0.0.1:8787/mcp');
}


describe('vaultmcp with @modelcontextprotocol/sdk (Streamable HTTP)', () => {
  let client;
  let transport;

  before(async () => {
    client = new Client({ name: 'vaultmcp-e2e-node', version: '1.0.0' });
    transport = new StreamableHTTPClientTransport(new URL(URL_));
    await client.connect(transport);
  });

  after(async () => {
    await transport.terminateSession();
    await client.close();
  });

  test('initialize: server info, instructions, session', () => {
    assert.equal(client.getServerVersion().name, 'vaultmcp');
    const instructions = client.getInstructions();
    assert.match(instructions, /"vault-fixtures"/);
    assert.match(instructions, /\d+ markdown/);
    assert.ok(transport.sessionId, 'the server assigned an Mcp-Session-Id');
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools, 'tools capability');
    assert.ok(caps.resources, 'resources capability');
  });

  test('ping', async () => {
    assert.deepEqual(await client.ping(), {});
  });

  test('tools/list: read-only search and fetch with schemas', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['search', 'fetch']);
    for (const [tool, arg] of [[tools[0], 'query'], [tools[1], 'id']]) {
      assert.equal(tool.annotations.readOnlyHint, true, tool.name);
      assert.deepEqual(tool.inputSchema.required, [arg]);
      assert.equal(tool.outputSchema.type, 'object');
      assert.ok(tool.description.length > 80);
    }
  });

  test('search then fetch the first hit (ChatGPT shapes)', async () => {
    // callTool also validates structuredContent against the tool's outputSchema.
    const hits = checkSearchShape(
      await client.callTool({ name: 'search', arguments: { query: 'Zettelkasten' } }),
    );
    assert.ok(hits.length >= 1);
    // The first hit, whatever the ranking: fetch takes the id search returned.
    const first = chatgptPayload(
      await client.callTool({ name: 'fetch', arguments: { id: hits[0].id } }),
    );
    assert.deepEqual(Object.keys(first).sort(), ['id', 'metadata', 'text', 'title', 'url']);
    assert.equal(first.id, hits[0].id);
    assert.equal(first.title, hits[0].title);
    assert.equal(first.url, hits[0].url);

    // The Zettelkasten note in detail (ranking is tested in Rust; here the fields matter).
    const hit = hits.find((h) => h.id === 'topics/Zettelkasten Method.md');
    assert.ok(hit, `the Zettelkasten note is a hit: ${JSON.stringify(hits)}`);
    assert.match(hit.snippet, /\*\*Zettelkasten\*\*/);
    const note = chatgptPayload(
      await client.callTool({ name: 'fetch', arguments: { id: hit.id } }),
    );
    assert.deepEqual(Object.keys(note).sort(), ['id', 'metadata', 'text', 'title', 'url']);
    assert.equal(note.id, hit.id);
    assert.equal(note.title, 'Zettelkasten Method');
    assert.equal(note.url, hit.url);
    assert.ok(!note.text.startsWith('---'), 'no frontmatter in text');
    assert.match(note.text, /Luhmann/);
    for (const k of ['path', 'tags', 'aliases', 'created', 'modified', 'properties', 'links', 'backlinks']) {
      assert.ok(k in note.metadata, `metadata.${k}`);
    }
    assert.ok(note.metadata.tags.includes('type/research'));
    assert.ok(note.metadata.aliases.includes('Slip-box'));
    assert.ok(note.metadata.backlinks.length > 0);
  });

  test('a broad search is cut at 10 hits', async () => {
    const hits = checkSearchShape(
      await client.callTool({ name: 'search', arguments: { query: 'note' } }),
    );
    assert.equal(hits.length, 10);
  });

  test('fetch of an unknown id and bad arguments are tool errors', async () => {
    for (const [name, args] of [
      ['fetch', { id: 'no/such/note.md' }],
      ['search', {}],
      ['search', { query: 42 }],
    ]) {
      const result = await client.callTool({ name, arguments: args });
      assert.equal(result.isError, true, `${name} ${JSON.stringify(args)}`);
      assert.equal(result.content.length, 1);
      assert.equal(result.content[0].type, 'text');
      assert.ok(!result.content[0].text.includes('\n'), 'one line');
    }
  });

  test('resources: list, templates, read a listed uri', async () => {
    const { resources, nextCursor } = await client.listResources();
    assert.equal(nextCursor, undefined);
    assert.ok(resources.length > 30);
    for (const r of resources) {
      assert.match(r.uri, /^vault:\/\/note\//);
      assert.equal(r.mimeType, 'text/markdown');
    }
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates[0].uriTemplate, 'vault://note/{+id}');

    const listed = resources.find((r) => r.name === 'topics/Zettelkasten Method.md');
    assert.ok(listed, 'the Zettelkasten note is listed');
    const { contents } = await client.readResource({ uri: listed.uri });
    assert.equal(contents.length, 1);
    assert.equal(contents[0].uri, listed.uri);
    assert.equal(contents[0].mimeType, 'text/markdown');
    assert.match(contents[0].text, /Luhmann/);
  });
});
