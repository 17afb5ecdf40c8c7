"""Bytes to text: gzip under a cap, binary sniffing, charset declaration and detection."""

from __future__ import annotations

import codecs
import re
import zlib

from newsetl.tasks.readers.base import Problem, RawInput
from newsetl.tasks.records import (
    BINARY,
    DECODE_ERROR,
    TOO_LARGE,
)

GZIP_MAGIC = b"\x1f\x8b"

SNIFF_BYTES = 8192  # where a charset declaration is looked for (HTML5 says 1024; real pages put it later)

SAMPLE_BYTES = 65536  # what binary detection looks at


def gunzip_capped(raw: bytes, limit: int) -> tuple[bytes, bool] | Problem:
    """Decompress (multi-member) gzip, never producing more than `limit` bytes: (data, truncated?)."""
    output = bytearray()
    pending = raw
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while True:
        try:
            output += decompressor.decompress(pending, limit + 1 - len(output))
        except zlib.error:
            return bytes(output), True
        if len(output) > limit:
            return Problem(TOO_LARGE, f"decompresses to more than {limit} bytes")
        if decompressor.eof:
            pending = decompressor.unused_data
            if not pending.strip(b"\x00"):  # NOTE: gzip allows zero padding after the last member
                return bytes(output), False
            if not pending.startswith(GZIP_MAGIC):
                return bytes(output), True  # trailing garbage: keep what came before it
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif decompressor.unconsumed_tail:
            pending = decompressor.unconsumed_tail  # the output cap paused it
        else:
            return bytes(output), True  # input ended inside a member


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

BINARY_SIGNATURES = (  # file types that can look like text to the byte counts (PDF) or are common
    (b"%PDF-", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (GZIP_MAGIC, "gzip data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"\xd0\xcf\x11\xe0", "MS Office document"),
)  # signatures that could start a line of text ("ID3", "RIFF") are left to the byte counts

# Control bytes that never occur in text (tab, newlines, form feed and ESC do).
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"

MAX_CONTROL_SHARE = 0.05

MAX_NUL_SHARE = 0.001

# NOTE: browsers read these labels as windows-1252 (WHATWG Encoding Standard); so do we.
CHARSET_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
                   "l1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252", "x-sjis": "shift_jis"}

WIDE_CODECS = frozenset({"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"})

# UTF-16/32 without a byte order mark is recognised by its NUL bytes, never by detection
# (which reads short Latin-1 text as UTF-16 with confidence).
DETECTION_EXCLUDED = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"]

MAX_REPLACED_SHARE = 0.005  # replacement characters tolerated in text decoded with its own charset

DECLARED_CHARSET = re.compile(
    rb"""<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
    rb"""|<meta\b[^>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""",
    re.IGNORECASE,
)


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML <meta> or XML declaration near the start names, if any."""
    match = DECLARED_CHARSET.search(data[:SNIFF_BYTES])
    if not match:
        return None
    return (match.group(1) or match.group(2)).decode("ascii").strip().lower()


def decode_text(data: bytes, declared: str | None = None) -> str | Problem:
    """Bytes to text: BOM, then strict UTF-8, then the declared charset, then detection; never raises."""
    # Valid UTF-8 wins over a declared single-byte charset: those accept any bytes, so a wrong
    # declaration (common) would silently give mojibake. Detection (charset-normalizer) is
    # trusted only when it finds an encoding under which the bytes read as text; otherwise the
    # input is undecodable (decode_error) rather than guessed as latin-1.
    for bom, codec in BOMS:
        if data.startswith(bom):
            text = _decode_leniently(data[len(bom) :], codec)
            return text if text is not None else Problem(DECODE_ERROR, f"not valid {codec} after its byte order mark")

    binary = binary_kind(data)
    if binary:
        wide = _decode_wide_without_bom(data)
        return wide if wide is not None else Problem(BINARY, binary)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly_utf8 = _decode_mostly_utf8(data)
    if mostly_utf8 is not None:
        return mostly_utf8
    codec = _codec_name(declared)
    if codec and codec not in WIDE_CODECS:
        text = _decode_leniently(data, codec)
        if text is not None:
            return text
    return _decode_detected(data)


def binary_kind(data: bytes) -> str | None:
    """What makes these bytes binary (a file signature, NUL or control bytes), or None for text."""
    for signature, kind in BINARY_SIGNATURES:
        if data.startswith(signature):
            return kind
    sample = data[:SAMPLE_BYTES]
    if not sample:
        return None
    nul_share = sample.count(0) / len(sample)
    if nul_share > MAX_NUL_SHARE:
        return f"{nul_share:.1%} NUL bytes"
    control_share = (len(sample) - len(sample.translate(None, CONTROL_BYTES))) / len(sample)
    if control_share > MAX_CONTROL_SHARE:
        return f"{control_share:.1%} control bytes"
    return None


def _decode_wide_without_bom(data: bytes) -> str | None:
    # UTF-16 text without a byte order mark looks binary (every other byte NUL for Latin text).
    sample = data[:SAMPLE_BYTES]
    if len(sample) < 4:
        return None
    even_nul, odd_nul = sample[0::2].count(0) / (len(sample) / 2), sample[1::2].count(0) / (len(sample) / 2)
    codec = (
        "utf-16-le" if odd_nul > 0.4 and even_nul < 0.05 else "utf-16-be" if even_nul > 0.4 and odd_nul < 0.05 else None
    )
    if codec is None:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    return None if binary_kind(text.encode("utf-8")) else text


def _decode_mostly_utf8(data: bytes) -> str | None:
    # Mostly valid multi-byte UTF-8 with a few broken bytes (a cut or a corrupt byte) is UTF-8;
    # a legacy 8-bit text almost never forms a valid multi-byte sequence.
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - replaced
    return text if non_ascii >= 10 * replaced and non_ascii >= 3 else None


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode_leniently(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        text = data.decode(codec, errors="replace")
    except LookupError:
        return None
    return text if text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1) else None


def _decode_detected(data: bytes) -> str | Problem:
    # NOTE: charset-normalizer is imported here: it costs import time and only legacy input needs it.
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_exclusion=DETECTION_EXCLUDED)
    best = matches.best()
    if best is None:
        return Problem(DECODE_ERROR, "not UTF-8 and no charset decodes it as text")
    # NOTE: charset-normalizer ranks equally good Latin code pages arbitrarily (cp1250 before
    # cp1252 for French); windows-1252 is by far the most common one in news archives.
    equally_good = [m for m in matches if m.chaos <= best.chaos + 0.02 and m.coherence >= best.coherence - 0.05]
    names = {name for m in equally_good for name in (m.encoding, *m.could_be_from_charset)}
    codec = "cp1252" if "cp1252" in names else best.encoding
    text = _decode_leniently(data, codec)
    return text if text is not None else Problem(DECODE_ERROR, f"detected {codec} but it does not decode")


def decode_input(raw: RawInput, declared: str | None = None) -> str | Problem:
    text = decode_text(raw.data, declared)
    if isinstance(text, str):
        return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return text
