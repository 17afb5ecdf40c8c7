"""Text normalisation shared by the readers, boilerplate removal and NER: one form of text everywhere."""

from __future__ import annotations

import re
import unicodedata

# Apostrophe look-alikes become ASCII: spaCy's English tokenizer splits "Russia’s" into
# "Russia’" + "s" (and the entity with it), while "Russia's" gives the usual PROPN + PART.
# U+2018 is included because it is often typed for an apostrophe ("Korea‘s").
# Curly double quotes stay: they are never inside a word, spaCy treats them as punctuation,
# and they carry the difference between an opening and a closing quote.
# NOTE: regexes, not str.translate: with a dict table that costs ~0.1 µs a character on
# non-ASCII text, eight times a regex (and this runs on every block, several times).
APOSTROPHE_LIKE = re.compile("[\u2019\u2018\u02bc\u2032\uff07]")
ANY_APOSTROPHE = re.compile("['\u2019\u2018\u02bc\u2032\uff07]")  # and the ASCII one: all dropped when comparing
# Characters with no visible width that break words apart for search and NER. ZWJ/ZWNJ
# (U+200D/U+200C) are kept: they are meaningful in Indic and Arabic-script text and emoji.
INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff\u180e]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but newline: tabs, NBSP, thin spaces
BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, visible whitespace only (one space inside lines, at most one blank line), ASCII apostrophes."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = APOSTROPHE_LIKE.sub("'", INVISIBLE.sub("", text))
    text = CONTROL.sub(" ", text.replace("\u2028", "\n").replace("\u2029", "\n\n"))
    lines = (HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


WORD = re.compile(r"\w+")
DIGITS = re.compile(r"\d+")


def comparison_form(text: str, keep_numbers: bool = False) -> str:
    """Text as compared for repeats: case, punctuation, spacing (and unless kept, the value of numbers) ignored."""
    if text.isascii():
        folded = text.lower().replace("'", "")
    else:
        folded = ANY_APOSTROPHE.sub("", INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold())
    # Numbers collapse so "© 2023 Site" and "© 2024 Site", or "12 comments" and "3 comments", match.
    return " ".join(WORD.findall(folded if keep_numbers else DIGITS.sub("0", folded)))




HAN_KANA = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words of a block: spaced words, and in Chinese and Japanese (written without spaces) a word per two Han or
    kana characters, about their average word length. Korean spaces its words, so they count as words."""
    if text.isascii():  # no Han or kana: a third of the cost of looking for them token by token
        return len(text.split())
    count = 0
    for token in text.split():
        characters = len(HAN_KANA.findall(token))
        count += (characters + 1) // 2 if characters else 1
    return count


# What NER reads: curly apostrophes as ASCII ones, no-break and thin spaces as spaces. Same-length
# replacements only, so that character offsets into the body stay valid. (NOTE: regexes, as
# str.translate with a dict table is ~8x slower on non-ASCII text.)
NER_APOSTROPHES = re.compile("[\u2019\u2018\u02bc]")
NER_SPACES = re.compile("[\u00a0\u2009\u202f]")


def ner_form(text: str) -> str:
    """The text as NER reads it: same length, apostrophes and spaces made plain."""
    return text if text.isascii() else NER_SPACES.sub(" ", NER_APOSTROPHES.sub("'", text))


# Words a byline puts before the author's name, in the languages of the news we read: "By",
# "Von", "Par", "Por"; "View all posts by", "Zeige alle Beiträge von" (an author page's link text).
BYLINE_PREFIX = re.compile(
    r"^(?:(?:view|see) all (?:posts|articles|stories) by|(?:zeige )?alle (?:beiträge|artikel) von|"
    r"(?:written|posted|published|reported|text|words|story) by|(?:ein )?(?:beitrag|artikel|text) von|"
    r"zum profil von|by|von|par|por|di|door|av|af|przez|autor(?:in)?|author|auteur|autore|责任编辑)"
    r"(?:\s*[:：]\s*|\s+)",
    re.IGNORECASE,
)
BYLINE_WORDS_BEGINNING_SURNAMES = frozenset({"von", "di", "da", "door", "av", "af", "par", "por"})  # "Di Maio"
BYLINE_ROLE = re.compile(r"\s+(?:is|was) (?:an?|the) .*$|\s+says:?$", re.IGNORECASE)  # "Phil Helsel is a reporter"


def author_name(byline: str | None) -> str | None:
    """The author named by a byline, without the words around the name; None when nothing is left."""
    if not byline:
        return None
    name = normalize_text(byline)
    while (match := BYLINE_PREFIX.match(name)) and match.end() < len(name):
        rest = name[match.end() :]
        if " " not in rest and match[0].strip().lower() in BYLINE_WORDS_BEGINNING_SURNAMES:
            break  # "Di Maio", "Von Trapp": a surname, not "by" and one name
        name = rest
    name = BYLINE_ROLE.sub("", name).strip(" ,;:|-–—")
    return name or None
