#!/usr/bin/env python3
"""Write the generated (byte-exact or large) files of the vault-fixtures demo vault.

Usage: make-fixtures.py [VAULT_DIR]   (default: vault-fixtures)

Hand-written fixture notes live in the repository as they are; this script only (re)creates:
  logs/Long Research Log.md      >= 80 KB research log, deterministic (random.Random(20240305))
  attachments/diagram.png        tiny valid 4x4 PNG
  lang/decomposed-accents.md     text in Unicode NFD (combining accents)
  topics/windows-line-endings.md UTF-8 BOM + CRLF line endings
  broken/invalid-utf8.md         invalid UTF-8 byte sequences in the body
  broken/binary.md               PNG bytes and NULs under a .md name
  broken/empty.md                zero bytes
  broken/only-frontmatter.md     frontmatter and no body
Running it twice produces identical bytes.
"""
import os
import random
import struct
import sys
import zlib

VAULT = sys.argv[1] if len(sys.argv) > 1 else "vault-fixtures"


def write(rel, data):
    path = os.path.join(VAULT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    print(f"{len(data):8d}  {rel}")


def png(width=4, height=4):
    def chunk(kind, payload):
        c = kind + payload
        return struct.pack(">I", len(payload)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)
    raw = b"".join(
        b"\x00" + b"".join(bytes((40 * x, 40 * y, 200, 255)) for x in range(width))
        for y in range(height)
    )
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------- the long research log
SYSTEMS = ["the ingest pipeline", "the tokenizer", "the posting-list writer", "the snippet builder",
           "the file watcher", "the link resolver", "the frontmatter parser", "the query planner",
           "the segment merger", "the OAuth consent flow", "the JWT signer", "the SQLite state store",
           "the MCP transport", "the search handler", "the fetch handler", "the backlink table"]
METRICS = ["p50 latency", "p95 latency", "peak RSS", "index size on disk", "reindex wall time",
           "nDCG@10 on Cranfield", "MRR@10", "recall at 100", "files per second", "cold-start time"]
VERBS = ["profiled", "rewrote", "instrumented", "benchmarked", "simplified", "split up", "reviewed",
         "replaced", "tuned", "documented", "fuzzed", "stress-tested"]
CAUSES = ["an accidental quadratic loop over headings", "a mutex held across a disk read",
          "re-reading frontmatter for every link", "allocation churn in the tokenizer",
          "fsync on every small write", "an unbounded channel between walker and parser",
          "lowercasing the whole note twice", "a missing index on the links table",
          "decoding the same UTF-8 buffer three times", "too many tiny segments before merging",
          "stat calls on ignored directories", "sorting results before truncating to the limit"]
OUTCOMES = [("dropped by about a third", 0.62, 0.72), ("halved", 0.45, 0.55),
            ("barely moved", 0.97, 1.03), ("improved slightly", 0.85, 0.95),
            ("got worse before it got better", 1.1, 1.4), ("became stable across runs", 0.9, 1.1),
            ("fell below the target", 0.3, 0.8), ("stopped regressing on the nightly run", 0.8, 1.0)]
FOLLOWUPS = ["write a regression test for it", "add a benchmark to the bench script",
             "ask for a second review", "check the effect on the 100k synthetic vault",
             "re-run the Cranfield evaluation", "update the design notes",
             "measure on the slower laptop", "look at the flame graph again tomorrow"]
OPENERS = ["Morning session.", "Short session after lunch.", "Late evening, tired but focused.",
           "Pairing with Dana today.", "Jörg joined for the first hour.", "Quiet day, no meetings.",
           "Started by re-reading yesterday's notes.", "Spent the first hour on email, then:"]
OBSERVATIONS = [
    "The variance between runs was larger than the effect I was trying to measure, so I pinned the CPU governor and repeated every run five times.",
    "Most of the time went into system calls rather than our own code, which suggests the walker rather than the parser.",
    "Small notes dominate the vault by count, but the handful of very large notes dominate the bytes; both matter for different reasons.",
    "The flame graph showed a wide plateau in hashing, which I had not expected at all.",
    "Warm-cache numbers look great and mean little; cold-cache numbers after dropping the page cache are what a user sees after a reboot.",
    "Snippets are surprisingly expensive when the matching term only appears deep inside a long note.",
    "The incremental path is only as good as the change detection: mtime plus size catches nearly everything, a content hash catches the rest.",
    "Tokenizing on Unicode word boundaries costs about fifteen percent over ASCII splitting, which is acceptable for correctness.",
    "Title and alias boosts moved the Cranfield score more than any change to the body analyzer.",
    "The ranking regressed when stemming was turned off, confirming that morphology matters even for English abstracts.",
]
DISTINCTIVE = {
    7: "Found the perihelion bug: a timestamp rounding error that only appears when a note is modified exactly at a second boundary.",
    23: "Named the new merge policy kestrel after the bird, because it hovers before it strikes: segments wait until there are enough of them.",
    41: "The stroopwafel benchmark (a deliberately awful vault of one-word notes) finally completes in under a second.",
    58: "Closing thought for the log: the quokka heuristic, rank by recency only when scores tie, is small but users notice it.",
}


def long_log():
    rng = random.Random(20240305)
    out = ["---", "title: Long Research Log", "aliases:", "  - Indexer performance diary",
           "tags:", "  - type/log", "  - project/vaultmcp", "created: 2024-01-08",
           "modified: 2024-04-30T17:45:00", "---", "# Long Research Log", "",
           "A running diary of the indexer performance work, kept mostly for myself. Entries are "
           "terse; the interesting numbers are in the tables.", ""]
    day = 7
    section = 0
    while True:
        section += 1
        day += rng.choice([1, 1, 1, 2, 3])
        month, dom = 1 + (day - 1) // 28, 1 + (day - 1) % 28
        system = rng.choice(SYSTEMS)
        out.append(f"## 2024-{month:02d}-{dom:02d} — {system}")
        out.append("")
        sentences = [rng.choice(OPENERS)]
        for _ in range(rng.randint(3, 6)):
            outcome, lo, hi = rng.choice(OUTCOMES)
            before = rng.randint(20, 900)
            sentences.append(
                f"{rng.choice(VERBS).capitalize()} {system} and found {rng.choice(CAUSES)}; "
                f"the {rng.choice(METRICS)} {outcome} "
                f"(run {section}.{rng.randint(1, 9)}: {before} before, "
                f"{round(before * rng.uniform(lo, hi))} after).")
            if rng.random() < 0.5:
                sentences.append(rng.choice(OBSERVATIONS))
        if section in DISTINCTIVE:
            sentences.insert(rng.randint(1, len(sentences)), DISTINCTIVE[section])
        out.append(" ".join(sentences))
        out.append("")
        if rng.random() < 0.4:
            out.append(f"### Numbers for {system}")
            out.append("")
            out.append("| run | metric | before | after |")
            out.append("| --- | --- | ---: | ---: |")
            for r in range(rng.randint(2, 4)):
                out.append(f"| {section}.{r + 1} | {rng.choice(METRICS)} | "
                           f"{rng.uniform(1, 900):.1f} | {rng.uniform(1, 900):.1f} |")
            out.append("")
        if rng.random() < 0.25:
            out.append("```text")
            out.append(f"$ vaultmcp reindex --full --vault /tmp/bench/{rng.choice([10, 100])}k")
            out.append(f"indexed {rng.randint(9000, 100000)} notes in {rng.uniform(0.5, 19):.2f}s")
            out.append("```")
            out.append("")
        out.append("Follow-ups:")
        out.append("")
        for f in rng.sample(FOLLOWUPS, rng.randint(1, 3)):
            out.append(f"- [{rng.choice([' ', 'x'])}] {f}")
        out.append("")
        if rng.random() < 0.2:
            out.append(f"See also [[{rng.choice(['BM25 Ranking', 'SQLite Internals', 'Vector Search', 'Roadmap'])}]].")
            out.append("")
        text = "\n".join(out)
        if len(text.encode()) >= 84_000 and section >= max(DISTINCTIVE):
            return text + "\n"


def main():
    write("logs/Long Research Log.md", long_log())
    write("attachments/diagram.png", png())
    nfd = ("---\ntitle: Decomposed accents\ntags: [lang/fr]\n---\n# Decomposed accents\n\n"
           "This note is stored in Unicode NFD: every accented letter is a base letter followed by "
           "a combining mark, the way macOS file systems used to hand text over. "
           "Crème brûlée at the café in Zürich with Renée; the résumé was naïve.\n")
    import unicodedata
    write("lang/decomposed-accents.md", unicodedata.normalize("NFD", nfd))
    crlf = ("---\r\ntitle: Windows line endings\r\ntags:\r\n  - type/reference\r\n"
            "created: 2024-02-29\r\n---\r\n# Windows line endings\r\n\r\n"
            "Synced from a Windows machine: a UTF-8 byte order mark and CRLF line endings. The "
            "frontmatter must still be recognised and the title must not start with a BOM. "
            "The word dromedary is here so a test can find it.\r\n")
    write("topics/windows-line-endings.md", b"\xef\xbb\xbf" + crlf.encode())
    bad = (b"---\ntitle: Invalid UTF-8\n---\n# Invalid UTF-8\n\n"
           b"The next words contain raw bytes that are not valid UTF-8: caf\xe9 (Latin-1), "
           b"\xff\xfe stray bytes, a truncated sequence \xe2\x82 and an overlong \xc0\xaf slash.\n"
           b"The indexer should skip or lossily decode this note, never crash; the word "
           b"marzipan is valid ASCII.\n")
    write("broken/invalid-utf8.md", bad)
    write("broken/binary.md", png(2, 2) + b"\x00" * 64 + b"not really markdown\x00\x01\x02")
    write("broken/empty.md", b"")
    write("broken/only-frontmatter.md",
          "---\ntitle: Only frontmatter\ntags: [broken]\ncreated: 2024-03-05\n---\n")


if __name__ == "__main__":
    main()
