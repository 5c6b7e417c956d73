"""The official Python `mcp` SDK client against a running `vaultmcp serve --no-auth` on
vault-fixtures, in both protocol eras: a session (`initialize`, 2025-11-25) and the stateless
2026-07-28 lifecycle (`server/discover`, no session).

Run: VAULTMCP_URL=http://127.0.0.1:PORT/mcp tests/e2e/.venv/bin/python tests/e2e/test_python_client.py
(scripts/e2e.sh starts the server, makes the venv from requirements.txt and sets the URL).
Prints one line per check and `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

URL = os.environ.get("VAULTMCP_URL", "")
ZETTEL = "topics/Zettelkasten Method.md"


def text_payload(result) -> dict:
    """The one text item of a ChatGPT-shaped tool result, parsed; structuredContent must equal it."""
    assert not result.is_error, result
    assert len(result.content) == 1, result.content
    item = result.content[0]
    assert item.type == "text", item
    parsed = json.loads(item.text)
    assert result.structured_content == parsed, "structuredContent is the same object as the text"
    return parsed


def check_search(result) -> list[dict]:
    parsed = text_payload(result)
    assert list(parsed) == ["results"], parsed.keys()
    hits = parsed["results"]
    assert len(hits) <= 10, len(hits)
    for hit in hits:
        assert sorted(hit) == ["id", "snippet", "title", "url"], hit
        assert all(isinstance(hit[k], str) for k in hit), hit
        assert hit["id"].endswith(".md"), hit
        assert hit["url"].startswith("obsidian://open?vault=vault-fixtures&file="), hit
    return hits


async def exercise(session: ClientSession, era: str) -> None:
    """The checks every era shares: tools, search, fetch, errors, resources."""
    tools = (await session.list_tools()).tools
    assert [t.name for t in tools] == ["search", "fetch"], [t.name for t in tools]
    for tool, arg in zip(tools, ["query", "id"]):
        assert tool.annotations is not None and tool.annotations.read_only_hint is True, tool
        assert tool.input_schema["required"] == [arg], tool.input_schema
        assert tool.output_schema and tool.output_schema["type"] == "object", tool

    # call_tool validates structuredContent against the outputSchema listed above.
    hits = check_search(await session.call_tool("search", {"query": "Zettelkasten"}))
    assert hits, "search found the Zettelkasten notes"
    assert len(check_search(await session.call_tool("search", {"query": "note"}))) == 10

    # The first hit, whatever the ranking: fetch takes the id search returned.
    first = text_payload(await session.call_tool("fetch", {"id": hits[0]["id"]}))
    assert sorted(first) == ["id", "metadata", "text", "title", "url"], first.keys()
    assert (first["id"], first["title"], first["url"]) == (hits[0]["id"], hits[0]["title"], hits[0]["url"])

    # The Zettelkasten note in detail (ranking is tested in Rust; here the fields matter).
    hit = next((h for h in hits if h["id"] == ZETTEL), None)
    assert hit is not None, hits
    assert "**Zettelkasten**" in hit["snippet"], hit
    note = text_payload(await session.call_tool("fetch", {"id": hit["id"]}))
    assert sorted(note) == ["id", "metadata", "text", "title", "url"], note.keys()
    assert note["id"] == ZETTEL and note["title"] == "Zettelkasten Method", note["title"]
    assert note["url"] == hit["url"]
    assert not note["text"].startswith("---") and "Luhmann" in note["text"]
    meta = note["metadata"]
    for key in ["path", "tags", "aliases", "created", "modified", "properties", "links", "backlinks"]:
        assert key in meta, key
    assert "type/research" in meta["tags"] and "Slip-box" in meta["aliases"], meta
    assert meta["backlinks"], "other notes link to it"

    for name, args in [("fetch", {"id": "no/such/note.md"}), ("search", {}), ("search", {"query": 3})]:
        result = await session.call_tool(name, args)
        assert result.is_error is True, (era, name, args, result)
        assert len(result.content) == 1 and "\n" not in result.content[0].text, result

    listing = await session.list_resources()
    assert listing.next_cursor is None
    assert len(listing.resources) > 30
    listed = next(r for r in listing.resources if r.name == ZETTEL)
    assert str(listed.uri) == "vault://note/topics/Zettelkasten%20Method.md", listed.uri
    templates = (await session.list_resource_templates()).resource_templates
    assert templates[0].uri_template == "vault://note/{+id}", templates
    contents = (await session.read_resource(listed.uri)).contents
    assert len(contents) == 1 and "Luhmann" in contents[0].text, contents
    assert contents[0].mime_type == "text/markdown"


async def session_era() -> None:
    async with streamable_http_client(URL) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25", init.protocol_version
            assert init.server_info.name == "vaultmcp", init.server_info
            assert '"vault-fixtures"' in (init.instructions or ""), init.instructions
            assert init.capabilities.tools is not None and init.capabilities.resources is not None
            await session.send_ping()
            await exercise(session, "session")


async def stateless_era() -> None:
    async with streamable_http_client(URL) as (read, write):
        async with ClientSession(read, write) as session:
            found = await session.discover()
            assert "2026-07-28" in found.supported_versions, found.supported_versions
            assert session.protocol_version == "2026-07-28", session.protocol_version
            assert '"vault-fixtures"' in (found.instructions or ""), found.instructions
            await exercise(session, "stateless")


async def main() -> int:
    if not URL:
        print("set VAULTMCP_URL to the server's MCP endpoint, e.g. http://127.0.0.1:8787/mcp")
        return 2
    checks: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("python sdk: session (initialize 2025-11-25): tools, search, fetch, errors, resources", session_era),
        ("python sdk: stateless 2026-07-28 (server/discover): the same checks", stateless_era),
    ]
    passed = failed = 0
    for name, check in checks:
        try:
            await asyncio.wait_for(check(), timeout=60)
        except BaseException:  # noqa: BLE001 - report every failure, then go on
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
