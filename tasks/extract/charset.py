"""Charset decoding of untrusted bytes: what a document's bytes say, whatever its label claims.

Input: body bytes, the charset declared by the transport (HTTP header, WARC) and the content
type. Output: the text and the codec used. Order: a byte-order mark, then strict UTF-8, then the
declared charset and a `<meta charset>`, then detection (charset-normalizer). Never raises on
bad bytes: the last resort decodes with replacement characters, which the repair stage scores.
Text that was double-decoded before it reached us (UTF-8 read as Windows-1252 and saved again
as UTF-8) is repaired here when it carries C1 control characters: the HTML parser drops those,
after which no later stage could restore the letters they belonged to (Russian "с" is
"Ñ" + U+0081).
"""

from __future__ import annotations

import codecs
import re

import ftfy

# Leading bytes searched for a <meta charset>: browsers look at the first 1024; pages with long
# heads put it later, so look a little further.
META_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
# Chaos (percent of odd characters) within which charset-normalizer's guesses count as equally
# good; its own ranking puts ties within about one point.
CHAOS_MARGIN = 1.0
# Marks of mojibake. C1 control characters: never in real text, always in Windows-1252
# mojibake of Cyrillic, Polish and other UTF-8 text whose second byte is 0x80-0x9f. A soft
# hyphen (byte 0xAD) right after a UTF-8 lead byte read as Latin-1 ("Ø\u00ad" is Arabic "ح",
# "Ð\u00ad" Cyrillic "Э") marks the same mojibake, and must be decoded here: trafilatura drops
# both C1 characters and soft hyphens, which would leave the word undecodable for the repair
# stage (Arabic copies of the syndication benchmark kept broken words and were set aside by the
# checks).
_MOJIBAKE_MARK = re.compile("[\u0080-\u009f]|[\u00c2-\u00df]\u00ad|[\u00e0-\u00ef][^\\s]?\u00ad")


def undo_double_decoding(text: str) -> str:
    """Repair UTF-8-read-as-Windows-1252 mojibake on the lines that carry its marks (C1
    characters, a soft hyphen after a UTF-8 lead byte).

    Line by line, then word by word where a line mixes mojibake with text ftfy cannot re-encode;
    lines without such marks are returned as they are (the repair stage handles the rest).
    """
    if not _MOJIBAKE_MARK.search(text):
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not _MOJIBAKE_MARK.search(line):
            continue
        fixed = ftfy.fix_encoding(line)
        if _MOJIBAKE_MARK.search(fixed):
            fixed = " ".join(
                ftfy.fix_encoding(word) if _MOJIBAKE_MARK.search(word) else word
                for word in line.split(" ")
            )
        lines[i] = fixed
    return "\n".join(lines)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_body(body: bytes, declared: str | None, content_type: str) -> tuple[str, str]:
    """Decode bytes to text: BOM, then strict UTF-8, then the declared charset, then detection.

    Strict UTF-8 goes first because a page that declares iso-8859-1 but is UTF-8 is far more
    common than Latin-1 bytes that happen to form valid UTF-8 sequences.
    """
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(name, errors="replace"), name
    try:
        return undo_double_decoding(body.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = [_codec(declared)]
    if content_type == "html":
        meta = _META_CHARSET.search(body[:META_SNIFF_BYTES])
        if meta:
            candidates.append(_codec(meta.group(1).decode("ascii", "ignore")))
    for candidate in candidates:
        if candidate and candidate != "utf-8":
            try:
                return body.decode(candidate), candidate
            except (UnicodeDecodeError, LookupError):
                continue
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body))
    if matches:
        # Several single-byte codecs decode short Western text without "chaos"; among the calm
        # ones charset-normalizer may rank a DOS or Baltic page first. Prefer Windows-1252,
        # the web's de-facto Western default (WHATWG maps Latin-1 labels to it), when it is one
        # of them; Cyrillic or Central European bytes do not list it and keep their codec.
        least = min(m.percent_chaos for m in matches)
        calm = [m for m in matches if m.percent_chaos <= least + CHAOS_MARGIN]
        if any("cp1252" in m.could_be_from_charset for m in calm):
            return body.decode("cp1252", errors="replace"), "cp1252"
        return str(calm[0]), calm[0].encoding
    # Windows-1252 decodes every byte but five; what it cannot map becomes U+FFFD.
    return body.decode("cp1252", errors="replace"), "cp1252"
