"""How text leaves the pipeline: JSON (lines, summaries) and log lines, the same for every path.

File names are bytes; a name that is not valid UTF-8 reaches Python as a str holding lone
surrogates (U+DC80-U+DCFF, `os.fsdecode`'s surrogateescape). Decided once for every output:
such a character is written as the escape `\\udcNN`: in JSON the standard escape (json.loads
gives the same str back and `os.fsencode` the original bytes; Elasticsearch stores and returns
the same escape), in log and terminal text the same six characters. Valid names are unchanged.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(value: Any) -> str:
    """JSON of `value` on one line, UTF-8 text; lone surrogates as \\uXXXX escapes (still valid JSON)."""
    return LONE_SURROGATE.sub(_escape, json.dumps(value, ensure_ascii=False))


def printable(text: str) -> str:
    """Text safe for any UTF-8 sink (terminal, log, Prefect API): lone surrogates as \\uXXXX."""
    return LONE_SURROGATE.sub(_escape, text)


def file_bytes(path: str) -> bytes:
    """The file system name of a path as the pipeline holds it (the inverse of os.fsdecode)."""
    return os.fsencode(path)
