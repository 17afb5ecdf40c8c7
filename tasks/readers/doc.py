"""Legacy Word 97-2003 documents (.doc): the main text of the piece table; title and author from the OLE summary."""

from __future__ import annotations

import io
import re
import struct

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.records import BAD_DOCUMENT, ENCRYPTED, NO_TEXT, UNSUPPORTED_LEGACY_FORMAT

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORD97_IDENT = 0xA5EC
WORD97_MIN_NFIB = 0x00C1  # older versions (Word 6/95) keep their text another way
FIELD_BEGIN, FIELD_SEPARATOR, FIELD_END = "\x13", "\x14", "\x15"
BREAKS = re.compile(r"[\r\x0b\x0c\x07]+")  # paragraph, line, page/section break, table cell
MAC_CODE_PAGES = {10000: "mac_roman"}


def doc_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    return document_articles(raw, doc_documents(raw.data), settings)


def doc_documents(data: bytes) -> list[DocumentText] | Problem:
    # NOTE: no maintained, permissively licensed .doc reader is on PyPI (antiword and the packages
    # wrapping it are GPL binaries). Word 97-2003 keeps its text in a piece table ([MS-DOC] 2.8.35,
    # 2.9.38), read here from the OLE streams that olefile (BSD; used by oletools) opens.
    import olefile

    if not data.startswith(OLE_MAGIC):
        return Problem(UNSUPPORTED_LEGACY_FORMAT, "not an OLE compound file (Word for DOS, Word 2 or a renamed file)")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except OSError as error:
        return Problem(BAD_DOCUMENT, f"not a readable OLE file: {error}"[:200])
    with ole:
        if ole.exists("EncryptedPackage"):
            return Problem(ENCRYPTED, "password-protected Word document")
        if not ole.exists("WordDocument"):
            return Problem(
                UNSUPPORTED_LEGACY_FORMAT, "an OLE file without a Word document (Excel, PowerPoint, Outlook?)"
            )
        try:
            text = _word97_text(ole)
        except (struct.error, OSError, IndexError) as error:
            return Problem(BAD_DOCUMENT, f"damaged Word document: {type(error).__name__}: {error}"[:200])
        if isinstance(text, Problem):
            return text
        meta = ole.get_metadata()
        codec = MAC_CODE_PAGES.get(meta.codepage or 1252, f"cp{meta.codepage or 1252}")
        title, author = (_ole_string(value, codec) for value in (meta.title, meta.author))
        created = meta.create_time.isoformat() if meta.create_time and meta.create_time.year > 1601 else None
    paragraphs = tuple(p for p in BREAKS.split(text) if p.strip())
    if not paragraphs:
        return Problem(NO_TEXT, "the document holds no text")
    return [
        DocumentText(title=title, paragraphs=paragraphs, author=author, published_at=created, title_from_body=not title)
    ]


def _word97_text(ole) -> str | Problem:  # noqa: ANN001 - olefile.OleFileIO
    word = ole.openstream("WordDocument").read()
    if len(word) < 0x1AA:
        return Problem(
            UNSUPPORTED_LEGACY_FORMAT, "Word document header too short (Word 6/95 or older): save it as .docx"
        )
    ident, n_fib = struct.unpack_from("<HH", word, 0)
    (flags,) = struct.unpack_from("<H", word, 0x0A)
    if ident != WORD97_IDENT or n_fib < WORD97_MIN_NFIB:
        return Problem(UNSUPPORTED_LEGACY_FORMAT, f"Word 6/95 or older document (nFib {n_fib}): save it as .docx")
    if flags & 0x0100:  # fEncrypted
        return Problem(ENCRYPTED, "password-protected Word document")
    table_name = "1Table" if flags & 0x0200 else "0Table"  # fWhichTblStm
    if not ole.exists(table_name):
        return Problem(BAD_DOCUMENT, f"Word document without its {table_name} stream")
    table = ole.openstream(table_name).read()
    (main_text_chars,) = struct.unpack_from("<i", word, 0x4C)  # ccpText: the story before footnotes, headers...
    fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x1A2)
    clx = table[fc_clx : fc_clx + lcb_clx]
    position = 0
    while position < len(clx) and clx[position] == 0x01:  # Prc: formatting, skipped
        position += 3 + struct.unpack_from("<H", clx, position + 1)[0]
    if position + 5 > len(clx) or clx[position] != 0x02:
        return Problem(BAD_DOCUMENT, "Word piece table not found")
    (size,) = struct.unpack_from("<I", clx, position + 1)
    plc = clx[position + 5 : position + 5 + size]
    pieces = (size - 4) // 12
    positions = struct.unpack_from(f"<{pieces + 1}i", plc, 0)
    parts = []
    for index in range(pieces):
        _, fc, _ = struct.unpack_from("<HIH", plc, 4 * (pieces + 1) + 8 * index)
        count = max(positions[index + 1] - positions[index], 0)
        if fc & 0x40000000:  # fCompressed: 8-bit windows-1252 characters at half the offset
            start = (fc & 0x3FFFFFFF) // 2
            parts.append(word[start : start + count].decode("cp1252", errors="replace"))
        else:
            parts.append(word[fc : fc + 2 * count].decode("utf-16-le", errors="replace"))
    return _without_field_codes("".join(parts)[:main_text_chars])


def _without_field_codes(text: str) -> str:
    # A field is BEGIN code SEPARATOR result END: the code ("HYPERLINK ...") goes, the result stays.
    kept: list[str] = []
    in_code: list[bool] = []
    for char in text:
        if char == FIELD_BEGIN:
            in_code.append(True)
        elif char == FIELD_SEPARATOR and in_code:
            in_code[-1] = False
        elif char == FIELD_END and in_code:
            in_code.pop()
        elif not any(in_code):
            kept.append(char)
    return "".join(kept)


def _ole_string(value: bytes | str | None, codec: str) -> str | None:
    if isinstance(value, bytes):
        try:
            value = value.decode(codec, errors="replace")
        except LookupError:
            value = value.decode("cp1252", errors="replace")
    return " ".join((value or "").split()) or None
