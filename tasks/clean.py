"""Boilerplate removal, learned per group from the corpus itself.

A block (paragraph, subheading, list item, caption...) is removed when
- it repeats the headline among the first lines (the title field has it);
- it is repeated inside the article: unpunctuated lines shown twice together with a neighbour
  are an ad slot (every copy goes); repeated sentences are an extraction duplicate (later copies
  go); a short block contained in a longer one is a pull quote; a line repeated on its own
  (an interview's recurring question) stays;
- the group's model has seen it in enough of the group's stories (`learn_boilerplate`: at
  least `min_repeat_files` stories and `repeat_ratio` of a group of `min_group_files` or more);
- it matches one of the compact BOILERPLATE_PATTERNS (ads, calls to action, share bars,
  contact lines, promos, copyright lines, image credits and captions);
- context: the lines of a "Most read"/"Related" box that also occur in other stories, a few
  unpunctuated words between two removed blocks, everything after a comments heading that
  comes in the second half of the text.
Closing credits ("Additional reporting by ...") always stay; nothing is removed for being short.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import CleanSettings, ExtractSettings
from newsetl.tasks.records import (
    NO_TEXT,
    CleanArticle,
    CleanedBatch,
    ExtractedArticle,
    ExtractedBatch,
    FileRead,
    Quarantine,
    RunSummary,
    SourceFile,
    SourceState,
)
from newsetl.tasks.source_state import group_key
from newsetl.tasks.text import WORD, comparison_form, normalize_text, word_count

if TYPE_CHECKING:
    from newsetl.tasks.store import ArticleStore

# --- fingerprints --------------------------------------------------------------------------


Fingerprint = Callable[[str], str]  # line_fingerprint, or a memo of it that a batch holds


def line_fingerprint(paragraph: str) -> str:
    """Short hex hash of a block's comparison form; "" for a block without words."""
    form = comparison_form(paragraph)
    if not form:
        return ""
    return hashlib.blake2b(form.encode("utf-8"), digest_size=8).hexdigest()


def article_fingerprints(article: ExtractedArticle, fingerprint: Fingerprint = line_fingerprint) -> frozenset[str]:
    """The distinct block fingerprints of an article: what the boilerplate model counts."""
    return frozenset(fp for fp in map(fingerprint, article.paragraphs) if fp)


# --- article id ----------------------------------------------------------------------------


def canonical_text(text: str) -> str:
    """NFC with every whitespace run collapsed to one space: the form ids are computed from."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def article_id(title: str, body: str) -> str:
    """Stable 32-hex id of an article's cleaned text: same text, same id, every run."""
    canonical = canonical_text(title) + "\n\n" + canonical_text(body)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


# --- the boilerplate model -----------------------------------------------------------------

# An article more than half of whose distinctive long blocks already belong to one story
# is a version of that story (a re-crawl, an update): the story is counted once, so its
# paragraphs never look like site boilerplate just because the folder holds five copies.
# Long blocks already seen in many stories are not distinctive (they are boilerplate) and
# are left out of the comparison, which also keeps it cheap in large groups.
SAME_STORY_SHARE = 0.5
LONG_BLOCK_WORDS = 12
DISTINCTIVE_MAX_STORIES = 25


@dataclass(frozen=True)
class GroupCounts:
    """In how many distinct stories of one group each block fingerprint occurs."""

    articles: int = 0
    fingerprints: Mapping[str, int] = field(default_factory=dict)

    def merge(self, other: GroupCounts) -> GroupCounts:
        """Counts of both, added (e.g. tonight's counts plus those persisted from earlier runs)."""
        merged = Counter(self.fingerprints)
        merged.update(other.fingerprints)
        return GroupCounts(self.articles + other.articles, dict(merged))


@dataclass(frozen=True)
class BoilerplateModel:
    """Per-group block counts; a block frequent enough in a large enough group is boilerplate."""

    groups: Mapping[str, GroupCounts] = field(default_factory=dict)

    def merge(self, counts: BoilerplateModel | Mapping[str, GroupCounts | Mapping]) -> BoilerplateModel:
        """A model with the counts of both; accepts another model or `to_counts()` output."""
        other = counts if isinstance(counts, BoilerplateModel) else BoilerplateModel.from_counts(counts)
        groups = dict(self.groups)
        for group, group_counts in other.groups.items():
            groups[group] = groups[group].merge(group_counts) if group in groups else group_counts
        return BoilerplateModel(groups)

    def is_boilerplate(self, group: str, fingerprint: str, settings: CleanSettings) -> bool:
        """Whether the block recurs in enough of its group's stories to be the site's, not the story's."""
        counts = self.groups.get(group)
        if counts is None or not fingerprint or counts.articles < settings.min_group_files:
            return False
        seen = counts.fingerprints.get(fingerprint, 0)
        return seen >= settings.min_repeat_files and seen >= settings.repeat_ratio * counts.articles

    def stories_with(self, group: str, fingerprint: str) -> int:
        """In how many stories of the group the block was seen."""
        counts = self.groups.get(group)
        return counts.fingerprints.get(fingerprint, 0) if counts and fingerprint else 0

    def to_counts(self, min_count: int = 1) -> dict[str, dict]:
        """Plain JSON-able counts to persist; `min_count` > 1 drops rare fingerprints to save space."""
        return {
            group: {
                "articles": counts.articles,
                "fingerprints": {fp: n for fp, n in counts.fingerprints.items() if n >= min_count},
            }
            for group, counts in self.groups.items()
        }

    @classmethod
    def from_counts(cls, counts: Mapping[str, GroupCounts | Mapping]) -> BoilerplateModel:
        """The model of persisted counts (as written by `to_counts`)."""
        groups = {}
        for group, value in counts.items():
            if isinstance(value, GroupCounts):
                groups[group] = value
            else:
                groups[group] = GroupCounts(
                    int(value["articles"]), {fp: int(n) for fp, n in value["fingerprints"].items()}
                )
        return cls(groups)


def learn_boilerplate(
    articles: Iterable[ExtractedArticle], settings: CleanSettings, fingerprint: Fingerprint = line_fingerprint
) -> BoilerplateModel:
    """Count, per group, in how many distinct stories each block fingerprint occurs."""
    del settings  # thresholds apply when the model is used, so counts can be merged across runs
    stories: dict[str, _GroupStories] = {}
    for article in articles:
        stories.setdefault(article.group, _GroupStories(fingerprint)).add(article)
    return BoilerplateModel({group: group_stories.counts() for group, group_stories in stories.items()})


class _GroupStories:
    """One group's articles folded into stories (versions of one story count once)."""

    def __init__(self, fingerprint: Fingerprint) -> None:
        self.fingerprint = fingerprint
        self.story_blocks: list[set[str]] = []  # every fingerprint seen in each story
        self.stories_of_long_block: dict[str, set[int]] = {}

    def add(self, article: ExtractedArticle) -> bool:
        """Count the article's blocks; True when it starts a story of its own (not a version of one seen)."""
        blocks: set[str] = set()
        long_blocks: set[str] = set()
        for paragraph in article.paragraphs:
            fingerprint = self.fingerprint(paragraph)
            if fingerprint:
                blocks.add(fingerprint)
                if word_count(paragraph) >= LONG_BLOCK_WORDS:
                    long_blocks.add(fingerprint)
        if not blocks:
            return False
        story = self._same_story(long_blocks)
        new_story = story is None
        if story is None:
            story = len(self.story_blocks)
            self.story_blocks.append(set())
        self.story_blocks[story] |= blocks
        for fingerprint in long_blocks:
            self.stories_of_long_block.setdefault(fingerprint, set()).add(story)
        return new_story

    def _same_story(self, long_blocks: set[str]) -> int | None:
        distinctive = [
            self.stories_of_long_block.get(fp, set())
            for fp in long_blocks
            if len(self.stories_of_long_block.get(fp, ())) <= DISTINCTIVE_MAX_STORIES
        ]
        if not distinctive:
            return None
        shared = Counter(story for stories in distinctive for story in stories)
        if not shared:
            return None
        story, overlap = max(shared.items(), key=lambda item: (item[1], -item[0]))
        return story if overlap > SAME_STORY_SHARE * len(distinctive) else None

    def counts(self) -> GroupCounts:
        per_fingerprint: Counter[str] = Counter()
        for blocks in self.story_blocks:
            per_fingerprint.update(blocks)
        return GroupCounts(len(self.story_blocks), dict(per_fingerprint))


# --- patterns ------------------------------------------------------------------------------


def _any(*alternatives: str) -> str:
    """A regex group matching any of the alternatives (each itself a regex)."""
    return "(?:" + "|".join(alternatives) + ")"


# fmt: off
PLATFORMS = _any(
    "twitter", "x", "facebook", "instagram", "linkedin", "tiktok", "youtube", "threads", "bluesky", "mastodon",
)
SHARE_WORDS = _any(
    "share", "tweet", "e-?mail", "mail", "print", "copy", "link", "save", "bookmark", "facebook", "twitter", "x",
    "linkedin", "whatsapp", "pinterest", "reddit", "telegram", "messenger", "flipboard", "sms", "comments?",
    "this", "article", "story", "post", "page", "on", "via", "the", r"\d+",
)
AGENCIES = _any("getty images", "shutterstock", "alamy", r"istock\w*", "ap images", "afp", "pa wire", "pa images")

# Patterns (case-insensitive, searched in the block) for what is never story text, each with
# the most words a block may have for it to apply. Kept compact; the model learned from the
# corpus does the site-specific rest.
BOILERPLATE_PATTERNS: tuple[tuple[str, int, str], ...] = (
    # ad slots and their labels
    ("ad", 8, "^" + _any(
        "advertisement", "advertising", "sponsored( content)?", "paid (content|post)", "promoted( content)?",
        "partner content", "ads?", "(story|article) continues below( this)?( advertisement| ad)?",
        "continue reading( below| the main story)?", "scroll (down )?to continue( reading)?", "skip (this )?ad",
        "close ad", "report (this )?ad",
    ) + r"\W*$"),
    ("ad", 25, r"\b" + _any(
        "unlimited (access|streaming|reading|digital access)", "ad-free", "(promo|discount|coupon) code",
        r"use (the )?code\W+\w+", "free trial", "start your (free )?(trial|subscription)", "limited[- ]time offer",
        "special offer",
    ) + r"\b"),
    ("ad", 6, r"^[\w .&'+-]{1,40} logo$"),
    # calls to action
    ("cta", 5, "^" + _any(
        "sign ?up", "sign in", "log ?in", "subscribe", "register", "join( now| us| today)?", "get started",
        "learn more", "shop now", "buy now", "try (it )?(for )?free", "download( now)?", "get the app",
        "accept( all)?( cookies)?",
    ) + r"( now| today| here| for free)?\W*$"),
    ("cta", 45, r"\b(sign(ing)? ?up|subscribe|register)\b.{0,80}\b"
     r"(newsletters?|free trial|briefing|alerts?|updates|inbox|digest|emails?)\b"),
    ("cta", 45, r"\b(newsletters?|briefing)\b.{0,80}\b(sign(ing)? ?up|subscribe|delivered|inbox)\b"),
    ("cta", 45, r"\b(delivered|straight|direct(ly)?|sent) (to|in|into) your (inbox|letterbox|email|door)\b"),
    ("cta", 40, r"\b(click|tap) here\b"),
    ("cta", 25, _any(
        r"^[\w' &.-]{1,40} newsletters?$", "^thanks?( you)? for (signing up|subscribing|registering|your subscription)",
        r"\berror processing your (subscription|request)\b", r"\b(your|the) inbox\b", r"^join (our|the) \w",
    )),
    ("cta", 40, r"\b" + _any(
        "already a (subscriber|member)", "become a (member|subscriber|supporter|patron)",
        "support (our|independent|quality) journalism", "(make|give) a (donation|contribution)", "donate (now|today)",
        "subscribe (now|today)", r"(download|get) (our|the) \w+ app", "we use cookies",
        "(this|our) (web)?site uses cookies", "cookie (policy|settings|preferences)",
    ) + r"\b"),
    ("cta", 6, "^" + _any(
        "privacy policy", "terms (of|and) (use|service|conditions)", "terms & conditions", "contact us", "about us",
        "site ?map",
    ) + r"\W*$"),
    # sharing, following, comments
    ("share", 12, r"^(?=.*\b(share|tweet|e-?mail|print|facebook|twitter|linkedin|whatsapp|pinterest|reddit)\b)"
     rf"({SHARE_WORDS}\W*){{1,12}}$"),
    ("share", 10, r"^share (this|the|on|via)\b"),
    ("share", 40, rf"\b(follow|like|find) (us|him|her|me|them|@?[\w.]+) on ({PLATFORMS}|google news)\b"),
    ("share", 14, "^" + _any(
        r"(\d+ )?comments?", r"(leave|post|add|view|show|load|read|see) (a |all |the )?(\d+ )?(comments?|replies)",
        "tell us what you think", "join the (conversation|discussion|debate)", "have your say",
    ) + r"\b.{0,60}$"),
    ("contact", 40, r"\b" + _any(
        "(may|can) be (reached|contacted) at", "have a (news )?tip", r"send (us )?(a |your )?(news )?tips?\b",
        "got a (news )?tip",
    )),
    ("contact", 30, r"^(e-?mail|contact|write to|reach) [^@]{0,60}@\S+"),
    # lists of links to other stories (their headings start a run, see LIST_HEADING)
    # a capitalised heading glued to the headline after it ("DON'T MISSPlague warning...")
    ("promo", 60, r"^(?-i:DON'T MISS|READ MORE|SEE MORE|MORE ON|RELATED|WATCH|LISTEN)(?-i:[A-Z])"),
    ("promo", 30, "^" + _any(
        "read more", "read also", "also read", "read next", "more reading", "see more", "see also", "related",
        "recommended", "watch", "listen", "(don'?t|do not) miss", "must read", "trending", "more", "click to read",
        "read the full story", "tags", "topics", "filed under", "categories",
    ) + r"\s*[:|»>\]]\s*\S"),
    # copyright and legal lines
    ("copyright", 40, r"^\W*(©|\(c\)|copyright\b|ⓒ)"),
    ("copyright", 40, r"\ball rights reserved\b|\bmay not be (published|reproduced|republished|redistributed)\b"),
    # image credits and captions
    ("caption", 30, "^(file )?" + _any(
        "photo", "photograph", "image", "picture", "pic", "video", "graphic", "illustration", "credit", "main image",
        "top image", "header image", "featured image", "gallery",
    ) + r"s?( credit| courtesy| by| source)?\s*[:|/©]"),
    ("caption", 30, r"^(image|photo|picture|photograph)s? (credit|courtesy|by)\b"),
    ("caption", 40, r"\(" + _any(
        "photo", "image", "picture", "credit", "courtesy", "file", "getty", "afp", "ap", "reuters", "epa", "pa",
        "shutterstock", "alamy", r"istock\w*", "bloomberg", "xinhua", "anadolu",
    ) + r"\b[^()]{0,80}\)\W*$"),
    ("caption", 40, r"\b(reuters|ap photo|afp|epa(-efe)?|getty images|xinhua|anadolu)\s*/\s*\w"),
    ("caption", 40, r"\b(photos?|images?|pictures?)\s*(©|\(c\))"),
    ("caption", 30, rf"(\bvia|\bfor|/|:|\|)\s*{AGENCIES}\W*$"),
)
# Headings of boxes that list other stories or tags; the short lines right after them go too.
LIST_HEADING = re.compile("^" + _any(
    "most (read|popular|viewed|shared|watched|commented)( (stories|articles|today|now))?",
    "trending( now| stories| topics)?", "popular( now| stories| articles)?",
    "related( articles| stories| content| coverage| news| links| reading| topics| posts)?",
    "recommended( for you| stories| articles| reading)?", r"more (from|on|in|stories|news|like this|articles)\b.{0,40}",
    "you (may|might) (also )?(like|enjoy|be interested in)", "(don'?t|do not) miss( this)?", "read (more|also|next)",
    "see (also|more)", "also read", "further reading", "top stories", "latest( news| stories| articles)?",
    "editor'?s (picks|choice)", "in case you missed it", "what to read next", "tags", "topics", "filed under",
    "categories", "keywords", "explore (more|further)",
    # a few of the same in German, French, Spanish, Italian, Portuguese
    "das könnte sie auch interessieren", "lesen sie auch", "mehr zum thema", "weitere artikel", "meistgelesen",
    "(à )?lire aussi", "sur le même sujet", "les plus lus", "leer más", "te puede interesar", "lo más leído",
    "leggi anche", "leia também", "mais lidas",
) + r"\W*$", re.IGNORECASE)
# Lines that look like promos but are the story's own closing credits: always kept.
STORY_CREDIT = re.compile(r"^\W*" + _any(
    "(additional|with|further) (reporting|writing|research|input|contributions?)",
    "(reporting|writing|editing|research|compiled|translated)( and \\w+)? by",
    "this (story|article) (was|has been) (updated|corrected)", "correction", "update",
) + r"\b", re.IGNORECASE)
COMMENTS_HEADING = re.compile("^" + _any(
    "(\\d+ )?(comments?|responses?|replies|thoughts|reactions?) (on|to) [“\"'‘].{0,200}",
    r"(\d+ )?(comments?|reader comments)\W*", r"(leave|post|add|write) a (reply|comment|response)\W*",
    r"(join|start) the (discussion|conversation)\W*", r"(show|view|load|read|see) (all )?(\d+ )?comments\W*",
) + "$", re.IGNORECASE)
# fmt: on
COMPILED_PATTERNS = tuple(
    (reason, max_words, re.compile(pattern, re.IGNORECASE)) for reason, max_words, pattern in BOILERPLATE_PATTERNS
)

SLOT_MIN_WORDS = 6  # two neighbouring repeated blocks must hold this many words to be an ad slot
SHORT_REPEAT_WORDS = 40  # a block repeated inside one article this short is an ad slot: every copy goes
PULL_QUOTE_MIN_WORDS = 8  # a block this long found again inside a longer block is a pull quote
LIST_RUN_MAX_WORDS = 30
LIST_RUN_MAX_BLOCKS = 12
SANDWICH_MAX_WORDS = 6
LIST_ITEM_MIN_STORIES = 2
STATEMENT_END = re.compile(r"[.?…:;\"”'»)。？]\W*$")  # ends like a sentence (an exclamation may be a button)
SENTENCE_END = re.compile(r"[.!?…:;\"”'»)。！？]\W*$")


def boilerplate_reason(paragraph: str) -> str | None:
    """Which fixed pattern (ad, cta, share, contact, promo, copyright, caption) a block matches, if any."""
    if STORY_CREDIT.search(paragraph):
        return None
    words = word_count(paragraph)
    for reason, max_words, pattern in COMPILED_PATTERNS:
        if words <= max_words and pattern.search(paragraph):
            return reason
    return None


def strip_boilerplate(
    article: ExtractedArticle,
    model: BoilerplateModel,
    settings: CleanSettings,
    fingerprint: Fingerprint = line_fingerprint,
) -> CleanArticle | None:
    """The article without boilerplate blocks; None when nothing is left (no_text)."""
    title, blocks = normalized_blocks(article)
    reasons = block_removal_reasons(blocks, article.group, model, settings, title, fingerprint)
    kept = [block for block, reason in zip(blocks, reasons, strict=True) if reason is None]
    if not kept:
        return None
    body = "\n\n".join(kept)
    text_hash = article_id(title, body)
    return CleanArticle(
        id=text_hash,
        text_hash=text_hash,
        title=title,
        body=body,
        source=article.source,
        group=article.group,
        url=article.url,
        author=article.author,
        site_name=article.site_name,
        published_at=article.published_at,
        published_at_source=article.published_at_source,
        language=article.language,
        removed_paragraphs=len(article.paragraphs) - len(kept),
    )


def normalized_blocks(article: ExtractedArticle) -> tuple[str, list[str]]:
    """What boilerplate removal starts from: the title without the site's name, the blocks holding words."""
    title = clean_title(normalize_text(article.title or ""), article.site_name, article.url)
    return title, [block for block in (normalize_text(p) for p in article.paragraphs) if WORD.search(block)]


def block_removal_reasons(
    blocks: list[str],
    group: str,
    model: BoilerplateModel,
    settings: CleanSettings,
    title: str = "",
    fingerprint: Fingerprint = line_fingerprint,
) -> list[str | None]:
    """Per block, why it is boilerplate (title, repeated, pull_quote, learned, a pattern, context) or None to keep."""
    fingerprints = [fingerprint(block) for block in blocks]
    words = [word_count(block) for block in blocks]
    credits = [bool(STORY_CREDIT.search(block)) for block in blocks]
    reasons: list[str | None] = [None] * len(blocks)

    # The headline repeated as the first lines of the body (the title field has it).
    title_fingerprints = {line_fingerprint(title)} | {
        line_fingerprint(part) for part in TITLE_SEPARATORS.split(title) if word_count(part) >= 3
    }
    title_fingerprints.discard("")
    for index in range(min(3, len(blocks))):
        if fingerprints[index] in title_fingerprints:
            reasons[index] = "title"

    # Repeated inside the article. Unpunctuated lines shown twice together with a neighbour
    # are an ad slot: every copy goes. Sentences shown twice (a long paragraph, or a run of
    # them) are an extraction duplicate: later copies go. A short line repeated on its own
    # (an interview's recurring question, a table header) stays.
    exact = [comparison_form(block, keep_numbers=True) for block in blocks]
    occurrences = Counter(exact)
    seen: set[str] = set()
    for index, form in enumerate(exact):
        if occurrences[form] > 1 and not credits[index]:
            in_run = words[index] <= SHORT_REPEAT_WORDS and _in_repeated_run(exact, words, index)
            ad_slot = in_run and not STATEMENT_END.search(blocks[index])
            duplicate = (in_run or words[index] > SHORT_REPEAT_WORDS) and form in seen
            if ad_slot or duplicate:
                reasons[index] = reasons[index] or "repeated"
        seen.add(form)
    _mark_pull_quotes(blocks, words, reasons)

    for index, block in enumerate(blocks):
        if reasons[index] is not None or credits[index]:
            continue
        if model.is_boilerplate(group, fingerprints[index], settings):
            reasons[index] = "learned"
        else:
            reasons[index] = boilerplate_reason(block)

    recurring = [model.stories_with(group, fp) >= LIST_ITEM_MIN_STORIES for fp in fingerprints]
    _mark_link_lists(blocks, words, reasons, recurring)
    _mark_sandwiched(blocks, words, reasons, credits)
    _mark_comments(blocks, words, reasons)
    return reasons


def _in_repeated_run(forms: list[str], words: list[int], index: int) -> bool:
    """Whether the block and a neighbour appear again, side by side, elsewhere in the article.

    Pairs of one-word blocks (repeated table headers, "63" / "85%") are not a slot.
    """
    for other, form in enumerate(forms):
        if other == index or form != forms[index]:
            continue
        for step in (-1, 1):
            here, there = index + step, other + step
            if not (0 <= here < len(forms) and 0 <= there < len(forms)) or here == other:
                continue
            if forms[here] == forms[there] and words[index] + words[here] >= SLOT_MIN_WORDS:
                return True
    return False


def _mark_pull_quotes(blocks: list[str], words: list[int], reasons: list[str | None]) -> None:
    # A short block whose words also stand inside a longer block is a pull quote (or a
    # caption repeating the text): the longer block keeps them.
    forms = [comparison_form(block, keep_numbers=True) for block in blocks]
    as_blocks = Counter(forms)
    joined = "\n".join(forms)  # forms hold no newline, so a match never spans two blocks
    for index, form in enumerate(forms):
        short = PULL_QUOTE_MIN_WORDS <= words[index] <= SHORT_REPEAT_WORDS
        if reasons[index] is None and short and joined.count(form) > as_blocks[form]:
            reasons[index] = "pull_quote"


def _mark_link_lists(blocks: list[str], words: list[int], reasons: list[str | None], recurring: list[bool]) -> None:
    # After a "Most read" / "Related" / "Tags" heading come headlines of other stories. Of
    # the run of short unpunctuated lines that follows, everything up to the last line also
    # seen in other stories of the group goes; lines after it (a subheading or a table row
    # right after the box) stay.
    for index, block in enumerate(blocks):
        if not LIST_HEADING.match(block):
            continue
        reasons[index] = reasons[index] or "list_heading"
        run_end = index
        for follower in range(index + 1, min(len(blocks), index + 1 + LIST_RUN_MAX_BLOCKS)):
            headline_like = words[follower] <= LIST_RUN_MAX_WORDS and not SENTENCE_END.search(blocks[follower])
            if not headline_like and reasons[follower] is None:
                break
            if recurring[follower] or reasons[follower] is not None:
                run_end = follower
        for follower in range(index + 1, run_end + 1):
            reasons[follower] = reasons[follower] or "listed"


def _mark_sandwiched(blocks: list[str], words: list[int], reasons: list[str | None], credits: list[bool]) -> None:
    # A few unpunctuated words between two removed blocks belong to them (a button, a logo, a label).
    removed = [reason is not None and reason != "title" for reason in reasons]
    for index in range(1, len(words) - 1):
        if (
            reasons[index] is None
            and not credits[index]
            and words[index] <= SANDWICH_MAX_WORDS
            and not STATEMENT_END.search(blocks[index])
        ):
            if removed[index - 1] and removed[index + 1]:
                reasons[index] = "sandwiched"


def _mark_comments(blocks: list[str], words: list[int], reasons: list[str | None]) -> None:
    # A comments heading in the second half of the text starts the readers' comments: the rest goes.
    total = sum(words)
    before = 0
    for index, block in enumerate(blocks):
        if before >= total / 2 and COMMENTS_HEADING.match(block):
            for rest in range(index, len(blocks)):
                reasons[rest] = reasons[rest] or "comments"
            return
        before += words[index]


# --- titles --------------------------------------------------------------------------------

SECOND_LEVEL_SUFFIXES = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or"})  # bbc.co.uk, abc.net.au
TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+")


def clean_title(title: str, site_name: str | None, url: str | None = None) -> str:
    """The headline without a leading or trailing " | Site Name" part naming the site (its name or host)."""
    sites = _site_forms(site_name, url)
    parts = TITLE_SEPARATORS.split(title)
    if len(parts) < 2 or not sites:
        return title
    separators = TITLE_SEPARATORS.findall(title)
    if _names_site(parts[-1], sites):
        return title[: len(title) - len(parts[-1]) - len(separators[-1])].strip() or title
    if _names_site(parts[0], sites):
        return title[len(parts[0]) + len(separators[0]) :].strip() or title
    return title


def _site_forms(site_name: str | None, url: str | None) -> set[str]:
    forms = set()
    if site_name:
        forms |= {comparison_form(part).replace(" ", "") for part in [site_name, *TITLE_SEPARATORS.split(site_name)]}
    if url:
        host = re.sub(r"^(https?:)?//", "", url).split("/")[0].split(":")[0].lower()
        labels = [label for label in host.split(".") if label not in ("www", "m", "amp")]
        if len(labels) >= 3 and labels[-2] in SECOND_LEVEL_SUFFIXES:
            labels = labels[:-1]
        if len(labels) >= 2:
            forms |= {labels[-2], "".join(labels)}
    forms.discard("")
    return forms


def _names_site(part: str, sites: set[str]) -> bool:
    form = comparison_form(part).replace(" ", "")
    return bool(form) and (form in sites or form.removeprefix("the") in sites or form.removesuffix("com") in sites)


# --- what a run knows before its first batch -------------------------------------------------


@dataclass(frozen=True)
class RunBoilerplate:
    """The counts of every file a run reads, learned before any file is cleaned.

    Cleaning every batch with the same knowledge makes a file's body independent of the batch it
    falls in and of the order of batches: the same folder gives the same bodies, hence the same
    article ids, on a first run, on `--force`, and at any batch size (README, "Article documents").
    `story_files` are the files whose article starts a story of its own: the blocks they hold are
    the ones recorded for later runs (a second version of a story adds nothing).
    """

    learned: BoilerplateModel
    story_files: frozenset[str]


def learn_run_boilerplate(batches: Iterable[ExtractedBatch], settings: CleanSettings) -> RunBoilerplate:
    """Stories and block counts per group over every article of the batches (files in path order).

    The batches are consumed one at a time (only the counts are kept)."""
    del settings  # thresholds apply when the model is used
    stories: dict[str, _GroupStories] = {}
    story_files: set[str] = set()
    for batch in batches:
        fingerprint = functools.cache(line_fingerprint)  # one cache per batch: memory stays flat over a run
        for article in sorted(batch.articles, key=lambda a: (a.source.path, a.source.record or "")):
            group_stories = stories.setdefault(article.group, _GroupStories(line_fingerprint))
            group_stories.fingerprint = fingerprint
            if group_stories.add(article):
                story_files.add(article.source.path)
    return RunBoilerplate(BoilerplateModel({group: s.counts() for group, s in stories.items()}), frozenset(story_files))


class RunStore:
    """The run's store, whose block counts leave out the files this run reads (RunBoilerplate has them).

    A file read now was counted by the store when an earlier run recorded it, and again once this
    run records it: both are taken off, so each file counts exactly once, whatever the batch.
    Everything else goes to the wrapped store.
    """

    def __init__(self, store: ArticleStore, reading: Iterable[str], known: Mapping[str, SourceState]) -> None:
        self._store = store
        self._counted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._groups: Counter[str] = Counter()
        self._blocks: Counter[str] = Counter()
        for path in reading:
            state = known.get(path)
            self._set(path, (state.groups, state.block_fingerprints) if state is not None else ((), ()))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._store, name)

    def _set(self, path: str, counted: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        groups, blocks = self._counted.get(path, ((), ()))
        self._groups.subtract(set(groups))
        self._blocks.subtract(set(blocks))
        self._counted[path] = counted
        self._groups.update(set(counted[0]))
        self._blocks.update(set(counted[1]))

    def block_counts(self, groups: Iterable[str], fingerprints: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        group_files, block_files = self._store.block_counts(groups, fingerprints)
        return (
            {g: max(0, n - self._groups[g]) for g, n in group_files.items()},
            {b: max(0, n - self._blocks[b]) for b, n in block_files.items()},
        )

    def write_states(self, writes: Any) -> None:
        self._store.write_states(writes)
        for state in writes.states:
            if state.path in self._counted:
                self._set(state.path, (state.groups, state.block_fingerprints))
        for path in writes.removed_states:
            if path in self._counted:
                self._set(path, ((), ()))


# --- the cleaning step of a batch ------------------------------------------------------------


def persisted_counts(
    articles: Iterable[ExtractedArticle], store: ArticleStore, fingerprint: Fingerprint = line_fingerprint
) -> dict[str, GroupCounts]:
    """What earlier runs saw of the batch's groups and blocks: stories per group, stories per block."""
    fingerprints = {article.group: set() for article in articles}  # type: dict[str, set[str]]
    for article in articles:
        fingerprints[article.group] |= article_fingerprints(article, fingerprint)
    keys = {f"{group_key(group)}:{fp}": (group, fp) for group, fps in fingerprints.items() for fp in fps}
    group_stories, block_stories = store.block_counts(fingerprints, keys)
    counts: dict[str, Counter[str]] = {group: Counter() for group in fingerprints}
    for key, stories in block_stories.items():
        group, fp = keys[key]
        counts[group][fp] = stories
    return {group: GroupCounts(group_stories.get(group, 0), dict(counts[group])) for group in fingerprints}


def clean_batch(
    extracted: ExtractedBatch, store: ArticleStore, settings: CleanSettings, run: RunBoilerplate | None = None
) -> CleanedBatch:
    """Strip boilerplate learned from the run's files (or this batch's) and earlier runs' counts of the same groups."""
    fingerprint = functools.cache(line_fingerprint)  # each block is fingerprinted once here, not four times
    learned = learn_boilerplate(extracted.articles, settings, fingerprint) if run is None else run.learned
    model = _restricted(learned, extracted.articles, fingerprint).merge(
        persisted_counts(extracted.articles, store, fingerprint)
    )
    articles: list[CleanArticle] = []
    problems = list(extracted.problems)
    kept_files: dict[str, list[CleanArticle]] = {}
    groups: dict[str, set[str]] = {}
    blocks: dict[str, set[str]] = {}
    for article in extracted.articles:
        path = article.source.path
        groups.setdefault(path, set()).add(article.group)
        blocks.setdefault(path, set()).update(
            f"{group_key(article.group)}:{fp}" for fp in article_fingerprints(article, fingerprint)
        )
        cleaned = strip_boilerplate(article, model, settings, fingerprint)
        if cleaned is None:
            problems.append(
                Quarantine(
                    path,
                    NO_TEXT,
                    f"{article.source.record}: only boilerplate" if article.source.record else "only boilerplate",
                )
            )
            continue
        articles.append(cleaned)
        kept_files.setdefault(path, []).append(cleaned)
    read: dict[str, FileRead] = {}
    quarantined = list(extracted.quarantined)
    for path, file_read in extracted.read.items():
        if path in kept_files:
            story = run is None or path in run.story_files  # a later version of a story adds no counts
            read[path] = dataclasses.replace(
                file_read,
                groups=tuple(sorted(groups[path])) if story else (),
                block_fingerprints=tuple(sorted(blocks[path])) if story else (),
            )
        else:
            quarantined.append(Quarantine(path, NO_TEXT, "only boilerplate"))
    problems = [p for p in problems if p.path in read]  # a quarantined file is one record, not many
    return CleanedBatch(extracted.files, read, tuple(articles), tuple(quarantined), tuple(problems), extracted.failed)


def _restricted(
    model: BoilerplateModel, articles: Iterable[ExtractedArticle], fingerprint: Fingerprint
) -> BoilerplateModel:
    """The counts of the batch's groups and blocks only (a run's model can be large; merging copies it)."""
    wanted: dict[str, set[str]] = {}
    for article in articles:
        wanted.setdefault(article.group, set()).update(article_fingerprints(article, fingerprint))
    groups = {}
    for group, fingerprints in wanted.items():
        counts = model.groups.get(group)
        if counts is not None:
            groups[group] = GroupCounts(
                counts.articles, {fp: counts.fingerprints[fp] for fp in fingerprints if fp in counts.fingerprints}
            )
    return BoilerplateModel(groups)


@task(name="clean", cache_policy=NONE)
def clean_batch_task(
    extracted: ExtractedBatch,
    store: ArticleStore,
    settings: CleanSettings,
    summary: RunSummary,
    run: RunBoilerplate | None = None,
) -> CleanedBatch:
    """Remove boilerplate from a batch's articles."""
    with summary.timed("clean"):
        cleaned = clean_batch(extracted, store, settings, run)
    return cleaned


@task(name="learn-boilerplate", cache_policy=NONE)
def learn_run_boilerplate_task(
    files: Sequence[SourceFile],
    batch_size: int,
    extract_settings: ExtractSettings,
    settings: CleanSettings,
    summary: RunSummary,
) -> RunBoilerplate:
    """What boilerplate looks like across every file the run reads, before any is cleaned (files are read twice)."""
    from newsetl.tasks.extract import extract_batch

    with summary.timed("learn_boilerplate"):
        batches = (
            extract_batch(files[start : start + batch_size], extract_settings)
            for start in range(0, len(files), batch_size)
        )
        return learn_run_boilerplate(batches, settings)
