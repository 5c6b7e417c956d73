#!/usr/bin/env python3
"""Rebuild the person's research notes from the "Research Notes Export" seed file.

Usage: seed-to-vault.py [EXPORT] [OUT_VAULT]
Defaults: /work/shared/seeds/000_e7426d49dbd36461.txt  vault-fixtures

A note boundary is a line `## Title (YYYY-MM-DD)`, a blank line, and a line
Path: `/.../obsidian-vault/<relative path>`. The export wraps every note as
"<note text>" + "\n\n---\n\n" (so each note ends with exactly one newline and the
separator is the `---` directly before the next boundary). Note bodies themselves
contain `## ` headings and `---` rules; those are kept byte for byte.
"""
import os
import re
import sys

EXPORT = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/seeds/000_e7426d49dbd36461.txt"
OUT = sys.argv[2] if len(sys.argv) > 2 else "vault-fixtures"
PREFIX = "/home/manuel/code/wesen/obsidian-vault/"

BOUNDARY = re.compile(
    r"^## (?P<title>.+) \((?P<date>\d{4}-\d{2}-\d{2})\)\n\nPath: `(?P<path>[^`\n]+)`\n\n",
    re.M,
)


def main():
    text = open(EXPORT, encoding="utf-8").read()
    m = re.match(r"# Research Notes Export\n\nGenerated: [^\n]+\nTotal notes: (\d+)\n\n---\n\n", text)
    assert m, "unexpected export header"
    expected = int(m.group(1))
    marks = list(BOUNDARY.finditer(text))
    assert marks[0].start() == m.end(), "text between header and first note"
    notes = []
    for i, mk in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        chunk = text[mk.end():end]
        sep = "\n\n---\n\n"
        assert chunk.endswith(sep), (mk.group("path"), chunk[-40:])
        body = chunk[: -len(sep)]
        assert body.endswith("\n") and not body.endswith("\n\n\n"), mk.group("path")
        path = mk.group("path")
        assert path.startswith(PREFIX), path
        rel = path[len(PREFIX):]
        assert rel.startswith("research/" + mk.group("date") + "/"), rel
        notes.append((rel, body))
    assert len(notes) == expected, (len(notes), expected)
    for rel, body in notes:
        dest = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8", newline="") as f:
            f.write(body)
        print(f"{len(body.encode()):7d}  {rel}")
    print(f"{len(notes)} notes written under {OUT}")


if __name__ == "__main__":
    main()
