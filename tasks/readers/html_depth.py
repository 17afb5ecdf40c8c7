"""How deep HTML nests, and the markup flattened below a depth: the one guard for libxml2's limit."""

from __future__ import annotations

import re
from collections import Counter

VOID_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta param source track wbr "
    "basefont bgsound frame keygen command image".split()
)

# Elements whose content is text, not tags: the scan skips to their end tag.
RAW_TEXT_END = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "textarea", "title", "xmp")
}

# An opening tag closes the open elements of these names first (HTML's optional end tags).
IMPLIED_CLOSERS = {
    "p": frozenset({"p"}),
    "li": frozenset({"li", "p"}),
    "dt": frozenset({"dt", "dd", "p"}),
    "dd": frozenset({"dt", "dd", "p"}),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option", "optgroup"}),
    "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}),
    "tr": frozenset({"td", "th", "tr"}),
    "thead": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "tbody": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "tfoot": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
}

BLOCK_ELEMENTS_CLOSING_P = frozenset(
    "address article aside blockquote details div dl fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr main menu nav ol p pre section table ul".split()
)

TAG_START = re.compile(r"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9:._-]*))")


def html_depth(markup: str) -> int:
    """How deep the element tree of this HTML gets, estimated from its tags (the parser's view, roughly)."""
    return _scan_html_depth(markup, max_depth=None)[1]


def limit_html_depth(markup: str, max_depth: int) -> tuple[str, int]:
    """(HTML with the tags below `max_depth` removed, its depth or 0 if too few tags to matter): text stays."""
    # NOTE: libxml2's HTML parser (lxml, trafilatura) stops at depth 256 and drops the rest of
    # the page, so deeper input would lose its article silently.
    if markup.count("<") <= max_depth:
        return markup, 0
    return _scan_html_depth(markup, max_depth)


def _scan_html_depth(markup: str, max_depth: int | None) -> tuple[str, int]:
    stack: list[tuple[str, bool]] = []  # (tag name, tag kept?)
    open_names: Counter[str] = Counter()
    cut: list[tuple[int, int]] = []  # spans of tags to remove
    deepest = 0
    position = 0

    def push(name: str, start: int, end: int) -> None:
        nonlocal deepest
        kept = max_depth is None or len(stack) < max_depth
        if not kept:
            cut.append((start, end))
        stack.append((name, kept))
        open_names[name] += 1
        deepest = max(deepest, len(stack))

    def pop() -> tuple[str, bool]:
        name, kept = stack.pop()
        open_names[name] -= 1
        return name, kept

    while True:
        match = TAG_START.search(markup, position)
        if not match:
            break
        start = match.start()
        if match.group(1):  # a comment runs to "-->"
            end = markup.find("-->", match.end())
            if end == -1:
                break
            position = end + 3
            continue
        end = markup.find(">", match.end())
        if end == -1:
            break
        end += 1
        position = end
        name = match.group(3).lower()
        if match.group(2):  # an end tag closes the innermost open element of its name
            if open_names[name] > 0:
                while stack:
                    popped, kept = pop()
                    if popped == name:
                        if not kept:
                            cut.append((start, end))
                        break
            elif max_depth is not None and len(stack) >= max_depth:
                cut.append((start, end))
            continue
        if name in VOID_ELEMENTS or markup[end - 2] == "/":
            continue
        closers = IMPLIED_CLOSERS.get(name)
        if closers is None and name in BLOCK_ELEMENTS_CLOSING_P:
            closers = IMPLIED_CLOSERS["p"]
        while closers and stack and stack[-1][0] in closers:
            pop()
        if name == "tr" and stack and stack[-1][0] == "table":
            push("tbody", start, start)  # NOTE: the parser inserts a tbody between table and tr
        push(name, start, end)
        if name in RAW_TEXT_END:
            close = RAW_TEXT_END[name].search(markup, end)
            if close is None:
                break
            pop()
            position = close.end()
    if max_depth is None or deepest <= max_depth or not cut:
        return markup, deepest
    parts, previous = [], 0
    for start, end in cut:
        parts.append(markup[previous:start])
        previous = end
    parts.append(markup[previous:])
    return "".join(parts), deepest
