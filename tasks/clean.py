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
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import CleanSettings
from newsetl.tasks.records import (
    CLEAN_ERROR,
    NO_ARTICLE,
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

# An article sharing more than half of its distinctive text with one story is a version of
# that story (a re-crawl, an update, an edited copy): the story is counted once, so its
# paragraphs (and an editor's note repeated in every version) never look like site
# boilerplate just because the folder holds ten versions. Text is compared as word 5-grams
# of its long blocks, one in SHINGLE_SAMPLE kept (cheap, and an edit changes few of them);
# 5-grams already seen in many stories are boilerplate, not distinctive, and left out.
# The same comparison across groups finds copies of a story saved elsewhere (syndication):
# what is boilerplate where the story came from is boilerplate in the copy too.
SAME_STORY_SHARE = 0.5
LONG_BLOCK_WORDS = 12
DISTINCTIVE_MAX_STORIES = 25
SHINGLE_WORDS = 5
SHINGLE_SAMPLE = 4
MIN_STORY_SHINGLES = 10  # fewer sampled 5-grams than this: too little text to call two articles one story


def story_shingles(paragraphs: Iterable[str]) -> frozenset[int]:
    """Sampled hashed word 5-grams of an article's long blocks: what versions of one story share."""
    found: set[int] = set()
    for paragraph in paragraphs:
        words = comparison_form(paragraph).split()
        if len(words) < LONG_BLOCK_WORDS:
            continue
        for start in range(len(words) - SHINGLE_WORDS + 1):
            value = zlib.crc32(" ".join(words[start : start + SHINGLE_WORDS]).encode("utf-8"))
            if value % SHINGLE_SAMPLE == 0:
                found.add(value)
    return frozenset(found)


def article_key(article: ExtractedArticle) -> str:
    """The article's place: its file, and its record inside the file when there are several."""
    return f"{article.source.path}\0{article.source.record or ''}"


@dataclass(frozen=True)
class StoryEvidence:
    """What learning a folder's boilerplate reads of an article: made where the article is (a worker sends these)."""

    key: str  # article_key
    path: str
    group: str
    blocks: frozenset[str]  # fingerprints of its blocks
    long_blocks: frozenset[str]  # those of its blocks of LONG_BLOCK_WORDS words or more
    shingles: frozenset[int]  # story_shingles


@dataclass(frozen=True)
class EvidenceBatch:
    """A batch's story evidence, articles in path order; its files (the run's progress counts them)."""

    files: tuple[SourceFile, ...]
    articles: tuple[StoryEvidence, ...]


def story_evidence(article: ExtractedArticle, fingerprint: Fingerprint = line_fingerprint) -> StoryEvidence:
    """An article's StoryEvidence."""
    paragraphs = article.paragraphs
    return StoryEvidence(
        key=article_key(article),
        path=article.source.path,
        group=article.group,
        blocks=frozenset(fp for fp in map(fingerprint, paragraphs) if fp),
        long_blocks=frozenset(
            fp
            for paragraph in paragraphs
            if len(comparison_form(paragraph).split()) >= LONG_BLOCK_WORDS and (fp := fingerprint(paragraph))
        ),
        shingles=story_shingles(paragraphs),
    )


def batch_evidence(batch: ExtractedBatch) -> EvidenceBatch:
    """The story evidence of a batch's articles, in path (then record) order."""
    fingerprint = functools.cache(line_fingerprint)  # one cache per batch: memory stays flat over a run
    articles = sorted(batch.articles, key=lambda a: (a.source.path, a.source.record or ""))
    return EvidenceBatch(batch.files, tuple(story_evidence(article, fingerprint) for article in articles))


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
    """Per-group block counts; a block frequent enough in a large enough group is boilerplate.

    `copies` names, per article (`article_key`), the other groups holding a copy of its story:
    their boilerplate applies to it too.
    """

    groups: Mapping[str, GroupCounts] = field(default_factory=dict)
    copies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def merge(self, counts: BoilerplateModel | Mapping[str, GroupCounts | Mapping]) -> BoilerplateModel:
        """A model with the counts of both; accepts another model or `to_counts()` output."""
        other = counts if isinstance(counts, BoilerplateModel) else BoilerplateModel.from_counts(counts)
        groups = dict(self.groups)
        for group, group_counts in other.groups.items():
            groups[group] = groups[group].merge(group_counts) if group in groups else group_counts
        copies = {**other.copies, **self.copies}
        return BoilerplateModel(groups, copies)

    def groups_of(self, article: ExtractedArticle) -> tuple[str, ...]:
        """The article's group, then the groups holding copies of its story."""
        return (article.group, *self.copies.get(article_key(article), ()))

    def is_boilerplate(self, group: str | Sequence[str], fingerprint: str, settings: CleanSettings) -> bool:
        """Whether the block recurs in enough of a group's stories to be the site's, not the story's."""
        if not isinstance(group, str):
            return any(self.is_boilerplate(one, fingerprint, settings) for one in group)
        counts = self.groups.get(group)
        if counts is None or not fingerprint or counts.articles < settings.min_group_files:
            return False
        seen = counts.fingerprints.get(fingerprint, 0)
        return seen >= settings.min_repeat_files and seen >= settings.repeat_ratio * counts.articles

    def stories_with(self, group: str | Sequence[str], fingerprint: str) -> int:
        """In how many stories of the group (the most of several groups) the block was seen."""
        if not isinstance(group, str):
            return max((self.stories_with(one, fingerprint) for one in group), default=0)
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
    """Count, per group, in how many distinct stories each block fingerprint occurs; link copies across groups."""
    del settings  # thresholds apply when the model is used, so counts can be merged across runs
    stories: dict[str, _GroupStories] = {}
    placed: list[tuple[str, str, int, frozenset[int]]] = []  # (article key, group, story, shingles)
    for article in articles:
        evidence = story_evidence(article, fingerprint)
        story = stories.setdefault(article.group, _GroupStories()).add(evidence)
        if story is not None:
            placed.append((evidence.key, article.group, story, evidence.shingles))
    return BoilerplateModel(
        {group: group_stories.counts() for group, group_stories in stories.items()}, _copies_elsewhere(placed, stories)
    )


def _copies_elsewhere(
    placed: list[tuple[str, str, int, frozenset[int]]], stories: Mapping[str, _GroupStories]
) -> dict[str, tuple[str, ...]]:
    """Per article, the other groups where a version of its story was seen."""
    if len(stories) < 2:
        return {}
    owners = _ShingleOwners(stories)
    comparable = [(key, group, shingles) for key, group, _, shingles in placed if len(shingles) >= MIN_STORY_SHINGLES]
    copies: dict[str, tuple[str, ...]] = {}
    for start in range(0, len(comparable), COPIES_CHUNK):
        chunk = comparable[start : start + COPIES_CHUNK]
        counts = owners.counts_by_group([shingles for _, _, shingles in chunk])
        for (key, group, shingles), shared in zip(chunk, counts, strict=True):
            shared[owners.index[group]] = 0
            elsewhere = np.flatnonzero(shared > SAME_STORY_SHARE * len(shingles))
            if elsewhere.size:
                copies[key] = tuple(sorted(owners.groups[i] for i in elsewhere))
    return copies


COPIES_CHUNK = 2000  # articles counted at once: bounds the arrays of (article, owner) pairs


class _ShingleOwners:
    """The groups where each shingle is distinctive, for the shingles seen in two groups or more.

    NOTE: a syndicated story puts each of its shingles in many groups; counting them shingle by
    shingle in Python made learning the largest part of the driver's CPU on a Dask run (the 1000
    articles of `newsetl bench`, whose sentences recur across folders). Held as arrays (shingles
    sorted, each one's groups consecutive), the counts are a few numpy calls: learning those
    articles took 0.50 s before, 0.30 s now (medians of 7, with the set operations of _GroupStories).
    """

    def __init__(self, stories: Mapping[str, _GroupStories]) -> None:
        self.groups = list(stories)
        self.index = {group: position for position, group in enumerate(self.groups)}
        seen: set[int] = set()
        self.in_two_groups: set[int] = set()
        for group_stories in stories.values():
            shingles = group_stories.first_story_of_shingle.keys()
            self.in_two_groups |= shingles & seen
            seen.update(shingles)
        shingle_parts, group_parts = [], []
        for position, group_stories in enumerate(stories.values()):
            owned = group_stories.distinctive_shingles() & self.in_two_groups
            shingle_parts.append(np.fromiter(owned, np.int64, len(owned)))
            group_parts.append(np.full(len(owned), position, np.int64))
        owned_shingles = np.concatenate(shingle_parts)
        order = np.argsort(owned_shingles, kind="stable")
        owned_shingles, self.owner_groups = owned_shingles[order], np.concatenate(group_parts)[order]
        # the distinct shingles, and where each one's owners start in owner_groups
        self.shingles, self.starts = np.unique(owned_shingles, return_index=True)
        self.ends = np.append(self.starts[1:], len(owned_shingles))

    def counts_by_group(self, articles: Sequence[frozenset[int]]) -> np.ndarray:
        """Per article (rows), how many of its shingles each group (columns) holds as distinctive."""
        counts = np.zeros((len(articles), len(self.groups)), np.int64)
        if not len(self.shingles):
            return counts
        shared = [shingles & self.in_two_groups for shingles in articles]
        sizes = np.fromiter(map(len, shared), np.int64, len(shared))
        values = np.fromiter(chain.from_iterable(shared), np.int64, int(sizes.sum()))
        found = np.searchsorted(self.shingles, values)  # every value is there: it is in two groups or more...
        valid = found < len(self.shingles)
        valid[valid] = self.shingles[found[valid]] == values[valid]  # ...but its owners may have dropped it
        article_of_value = np.repeat(np.arange(len(articles)), sizes)[valid]
        starts, ends = self.starts[found[valid]], self.ends[found[valid]]
        lengths = ends - starts
        # every owner of every value: each run of `lengths` positions from its start
        positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        cells = np.repeat(article_of_value, lengths) * len(self.groups) + self.owner_groups[positions]
        counts += np.bincount(cells, minlength=counts.size).reshape(counts.shape)
        return counts


class _GroupStories:
    """One group's articles folded into stories (versions of one story count once)."""

    def __init__(self) -> None:
        self.story_blocks: list[set[str]] = []  # every fingerprint seen in each story
        # NOTE: most shingles belong to one story. Keeping a shingle's first story apart from the
        # few shared ones lets set operations do the per-shingle work (folding every article's
        # shingles one by one was the largest part of the driver's CPU on a Dask run).
        self.first_story_of_shingle: dict[int, int] = {}
        self.more_stories_of_shingle: dict[int, set[int]] = {}  # shingles of two stories or more
        self.stories_of_long_block: dict[str, set[int]] = {}

    def add(self, evidence: StoryEvidence) -> int | None:
        """Count the article's blocks in its story (a new one unless it is a version of one seen); its story."""
        if not evidence.blocks:
            return None
        story = self._same_story(evidence.shingles)
        if story is None:
            story = self._copy_of(evidence.long_blocks)
        if story is None:
            story = len(self.story_blocks)
            self.story_blocks.append(set())
        self.story_blocks[story] |= evidence.blocks
        first = self.first_story_of_shingle
        for shingle in first.keys() & evidence.shingles:
            if first[shingle] != story:
                self.more_stories_of_shingle.setdefault(shingle, {first[shingle]}).add(story)
        first.update(dict.fromkeys(evidence.shingles.difference(first), story))
        for fingerprint in evidence.long_blocks:
            self.stories_of_long_block.setdefault(fingerprint, set()).add(story)
        return story

    def _copy_of(self, long_blocks: frozenset[str]) -> int | None:
        """The story already holding most long paragraphs of the article: a copy too short for the shingle rule.

        Without it a short story and its copy (or its edition with a sentence added) counted as two
        stories, so a re-run that met them after the original (a healing run after a crash) took the
        story's paragraphs for the site's. More than half of the long paragraphs, and all of them
        when there is just one.
        """
        if not long_blocks:
            return None
        shared = Counter(story for fp in long_blocks for story in self.stories_of_long_block.get(fp, ()))
        if not shared:
            return None
        story, overlap = max(shared.items(), key=lambda item: (item[1], -item[0]))
        enough = overlap > SAME_STORY_SHARE * len(long_blocks) and (overlap >= 2 or len(long_blocks) == 1)
        return story if enough else None

    def _same_story(self, shingles: frozenset[int]) -> int | None:
        if len(shingles) < MIN_STORY_SHINGLES:
            return None
        first, more = self.first_story_of_shingle, self.more_stories_of_shingle
        seen = first.keys() & shingles
        in_more = more.keys() & seen
        shared = Counter(map(first.__getitem__, seen - in_more))
        for stories in map(more.__getitem__, in_more):
            if len(stories) <= DISTINCTIVE_MAX_STORIES:
                shared.update(stories)
        if not shared:
            return None
        story, overlap = max(shared.items(), key=lambda item: (item[1], -item[0]))
        return story if overlap > SAME_STORY_SHARE * len(shingles) else None

    def distinctive_shingles(self) -> set[int]:
        """The shingles seen in at most DISTINCTIVE_MAX_STORIES stories of the group."""
        crowded = [
            shingle
            for shingle, stories in self.more_stories_of_shingle.items()
            if len(stories) > DISTINCTIVE_MAX_STORIES
        ]
        return self.first_story_of_shingle.keys() - crowded

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
    # subscription and donation pitches, newsletter boxes
    ("cta", 45, r"\b(by|via|to your) e-?mail\b.{0,80}\bnever miss\b|\bnever miss (a|an|another|our|the|any)\b.{0,40}"
     r"\b(stor(y|ies)|updates?|issues?|editions?|news|headlines?|beat)\b"),
    ("cta", 30, r"\b(enter|pop|put|type|drop|add|leave) your e-?mail( address)?\b"),
    ("cta", 40, r"\b(daily|weekly|morning|evening|free) (edition|briefing|digest|newsletter|bulletin)\b.{0,60}"
     r"\b(by e-?mail|inbox|sign up|subscribe)\b"),
    ("cta", 40, r"\b" + _any(
        "to continue reading", r"subscribe (to|for) (continue|keep|read|unlock|unlimited)", "already have an account",
        "create a free account", r"(one-time|monthly|recurring|tax[- ]deductible) (gift|donation|contribution)",
        r"(donate|contribute|chip in) (now|today|here|to (support|keep))", "become a (paying )?(member|subscriber)",
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
    "this (story|article|report|post|version) (was|has been|is) (updated|corrected|amended|revised|changed)",
    "correction", "update", "updated", "editor'?s'? note", "clarification",
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

AD_UNIT_BLOCKS = 3  # a repeated run of this many unpunctuated lines is an ad slot by itself
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
    reasons = block_removal_reasons(blocks, model.groups_of(article), model, settings, title, fingerprint)
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
        subjects=article.subjects,
        located=article.located,
        dateline=article.dateline,
        words=len(body.split()),
    )


def normalized_blocks(article: ExtractedArticle) -> tuple[str, list[str]]:
    """What boilerplate removal starts from: the title without the site's name, the blocks holding words."""
    title = clean_title(normalize_text(article.title or ""), article.site_name, article.url)
    return title, [block for block in (normalize_text(p) for p in article.paragraphs) if WORD.search(block)]


def block_removal_reasons(
    blocks: list[str],
    group: str | Sequence[str],
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

    # Repeated inside the article. A run of blocks shown again as a unit is an ad slot when it
    # looks like one (a call to action, an ad label, a site's learned line): every copy goes.
    # Sentences shown twice (a long paragraph, or a run of them) are an extraction duplicate:
    # later copies go. Short lines repeated in a list-like story (a meal plan's "Eat every 2-3
    # hours", a schedule's "Gates open 10am", an interview's recurring question) are content.
    exact = [comparison_form(block, keep_numbers=True) for block in blocks]
    occurrences = Counter(exact)
    seen: set[str] = set()
    for index, form in enumerate(exact):
        if occurrences[form] > 1 and not credits[index]:
            run = _repeated_run(exact, words, index) if words[index] <= SHORT_REPEAT_WORDS else []
            if run and _looks_like_ad(blocks, words, run, fingerprints, group, model, settings):
                reasons[index] = reasons[index] or "repeated"
            elif form in seen and (
                words[index] > SHORT_REPEAT_WORDS or (run and all(_is_prose(blocks[i], words[i]) for i in run))
            ):
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


def _repeated_run(forms: list[str], words: list[int], index: int) -> list[int]:
    """The blocks around `index` that appear again, side by side and in the same order, elsewhere.

    Empty when no neighbour repeats with it; pairs of one-word blocks (repeated table headers,
    "63" / "85%") are no run.
    """
    best: list[int] = []
    for other, form in enumerate(forms):
        if other == index or form != forms[index]:
            continue
        start = index
        while (
            start > 0
            and other - (index - start) > 0
            and start - 1 != other
            and forms[start - 1] == forms[other - (index - start) - 1]
        ):
            start -= 1
        end = index
        while (
            end + 1 < len(forms)
            and other + (end - index) + 1 < len(forms)
            and end + 1 != other
            and forms[end + 1] == forms[other + (end - index) + 1]
        ):
            end += 1
        run = list(range(start, end + 1))
        if len(run) >= 2 and sum(words[i] for i in run) >= SLOT_MIN_WORDS and len(run) > len(best):
            best = run
    return best


def _looks_like_ad(
    blocks: list[str],
    words: list[int],
    run: list[int],
    fingerprints: list[str],
    group: str | Sequence[str],
    model: BoilerplateModel,
    settings: CleanSettings,
) -> bool:
    """Whether a repeated run of blocks is an ad slot.

    Either one of its blocks is a known ad, call to action or site line, or the run is a unit of
    AD_UNIT_BLOCKS or more lines, none a sentence, set apart from the text around it (prose or
    nothing on both sides: a brand, a slogan, a button inserted between paragraphs). Short lines
    repeating among other short lines are a list-like story's structure instead.
    """
    if len(run) >= AD_UNIT_BLOCKS and not any(STATEMENT_END.search(blocks[i]) for i in run):
        around = [i for i in (run[0] - 1, run[-1] + 1) if 0 <= i < len(blocks)]
        if all(_is_prose(blocks[i], words[i]) or words[i] > LIST_RUN_MAX_WORDS for i in around):
            return True
    return any(
        boilerplate_reason(blocks[i]) is not None or model.is_boilerplate(group, fingerprints[i], settings) for i in run
    )


def _is_prose(block: str, words: int) -> bool:
    return words >= PULL_QUOTE_MIN_WORDS and bool(SENTENCE_END.search(block))


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
SITE_PREFIX_MIN_CHARS = 4
TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+")


def clean_title(title: str, site_name: str | None, url: str | None = None) -> str:
    """The headline without the parts naming the site: " | Site Name | Section…" after it, or "Site: " before it."""
    sites = _site_forms(site_name, url)
    parts = TITLE_SEPARATORS.split(title)
    if len(parts) < 2 or not sites:
        return title
    separators = TITLE_SEPARATORS.findall(title)
    # The first part (after the headline) that names the site starts the site's suffix: it and
    # everything after it go ("Headline - WSVN 7News | Miami News, Weather | Fort Lauderdale").
    for index in range(1, len(parts)):
        if _names_site(parts[index], sites):
            cut = sum(len(part) + len(separator) for part, separator in zip(parts[:index], separators))
            kept = title[: cut - len(separators[index - 1])].strip()
            return kept or title
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
    if not form:
        return False
    if form in sites or form.removeprefix("the") in sites or form.removesuffix("com") in sites:
        return True
    # "WSVN 7News" for wsvn.com: a part starting with the site's name (long enough to be one)
    return any(len(site) >= SITE_PREFIX_MIN_CHARS and form.startswith(site) for site in sites)


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


def learn_run_boilerplate(batches: Iterable[ExtractedBatch | EvidenceBatch], settings: CleanSettings) -> RunBoilerplate:
    """Stories, block counts per group and copies across groups over every article of the batches (files in path order).

    The batches (extracted, or their story evidence made where they were extracted) are consumed one
    at a time: only the counts and each story's shingle sample are kept."""
    del settings  # thresholds apply when the model is used
    stories: dict[str, _GroupStories] = {}
    story_files: set[str] = set()
    placed: list[tuple[str, str, int, frozenset[int]]] = []  # (article key, group, story, shingles)
    for batch in batches:
        evidence = batch if isinstance(batch, EvidenceBatch) else batch_evidence(batch)
        for article in evidence.articles:
            group_stories = stories.setdefault(article.group, _GroupStories())
            new_story = len(group_stories.story_blocks)  # the number a story this article starts gets
            story = group_stories.add(article)
            if story is None:
                continue
            placed.append((article.key, article.group, story, article.shingles))
            if story == new_story:
                story_files.add(article.path)
    counts = {group: group_stories.counts() for group, group_stories in stories.items()}
    return RunBoilerplate(BoilerplateModel(counts, _copies_elsewhere(placed, stories)), frozenset(story_files))


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
    return counts_in_store(block_fingerprints(articles, fingerprint), store)


def block_fingerprints(
    articles: Iterable[ExtractedArticle], fingerprint: Fingerprint = line_fingerprint
) -> dict[str, set[str]]:
    """Per group of the articles, the fingerprints of their blocks: what the store is asked to count."""
    fingerprints: dict[str, set[str]] = {}
    for article in articles:
        fingerprints.setdefault(article.group, set()).update(article_fingerprints(article, fingerprint))
    return fingerprints


def batch_block_fingerprints(extracted: ExtractedBatch) -> dict[str, set[str]]:
    """block_fingerprints of a batch's articles (run where the batch is: a worker sends back only these)."""
    return block_fingerprints(extracted.articles, functools.cache(line_fingerprint))


def counts_in_store(fingerprints: Mapping[str, set[str]], store: ArticleStore) -> dict[str, GroupCounts]:
    """What earlier runs saw of these groups and their blocks: stories per group, stories per block."""
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
    persisted = persisted_counts(extracted.articles, store, fingerprint)
    return clean_batch_with_counts(extracted, settings, run, persisted, fingerprint)


def clean_batch_with_counts(
    extracted: ExtractedBatch,
    settings: CleanSettings,
    run: RunBoilerplate | None,
    persisted: Mapping[str, GroupCounts],
    fingerprint: Fingerprint | None = None,
) -> CleanedBatch:
    """clean_batch with earlier runs' counts of the batch's groups given (a worker cleans so, without the store)."""
    fingerprint = fingerprint or functools.cache(line_fingerprint)
    learned = learn_boilerplate(extracted.articles, settings, fingerprint) if run is None else run.learned
    model = _restricted(learned, extracted.articles, fingerprint).merge(persisted)
    articles: list[CleanArticle] = []
    problems = list(extracted.problems)
    kept_files: dict[str, list[CleanArticle]] = {}
    groups: dict[str, set[str]] = {}
    blocks: dict[str, set[str]] = {}
    failures: dict[str, Quarantine] = {}  # files one of whose articles cleaning failed on
    for article in extracted.articles:
        path = article.source.path
        groups.setdefault(path, set()).add(article.group)
        blocks.setdefault(path, set()).update(
            f"{group_key(article.group)}:{fp}" for fp in article_fingerprints(article, fingerprint)
        )
        try:
            cleaned = strip_boilerplate(article, model, settings, fingerprint)
        except Exception as error:  # noqa: BLE001 - one article must not stop the run
            failures[path] = Quarantine(path, CLEAN_ERROR, f"{type(error).__name__}: {str(error)[:200]}")
            problems.append(failures[path])
            continue
        if cleaned is None:
            problems.append(
                Quarantine(
                    path,
                    NO_TEXT,
                    f"{article.source.record}: only boilerplate" if article.source.record else "only boilerplate",
                )
            )
            continue
        if too_short_for_an_article(cleaned, settings):
            detail = f"{word_count(cleaned.body)} words left: a caption or teaser, not an article"
            detail = f"{article.source.record}: {detail}" if article.source.record else detail
            problems.append(Quarantine(path, NO_ARTICLE, detail))
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
            no_article = [p for p in problems if p.path == path and p.reason == NO_ARTICLE]
            fallback = no_article[0] if no_article else Quarantine(path, NO_TEXT, "only boilerplate")
            quarantined.append(failures.get(path) or fallback)
    problems = [p for p in problems if p.path in read]  # a quarantined file is one record, not many
    return CleanedBatch(extracted.files, read, tuple(articles), tuple(quarantined), tuple(problems), extracted.failed)


WEB_FORMATS = ("html", "warc")


def too_short_for_an_article(article: CleanArticle, settings: CleanSettings) -> bool:
    """Whether a web page's cleaned text is too short to be its article (a photo caption, a teaser).

    Only pages: a text or JSON file holds what its author meant as the article, however short.
    """
    is_page = any(kind in article.source.format for kind in WEB_FORMATS)
    return is_page and word_count(article.body) < settings.min_article_words


def _restricted(
    model: BoilerplateModel, articles: Iterable[ExtractedArticle], fingerprint: Fingerprint
) -> BoilerplateModel:
    """The counts of the batch's groups (and of groups holding copies of its stories) and blocks only.

    A run's model can be large; merging copies it."""
    wanted: dict[str, set[str]] = {}
    copies: dict[str, tuple[str, ...]] = {}
    for article in articles:
        fingerprints = article_fingerprints(article, fingerprint)
        for group in model.groups_of(article):
            wanted.setdefault(group, set()).update(fingerprints)
        if (key := article_key(article)) in model.copies:
            copies[key] = model.copies[key]
    groups = {}
    for group, fingerprints in wanted.items():
        counts = model.groups.get(group)
        if counts is not None:
            groups[group] = GroupCounts(
                counts.articles, {fp: counts.fingerprints[fp] for fp in fingerprints if fp in counts.fingerprints}
            )
    return BoilerplateModel(groups, copies)


@task(name="clean", cache_policy=NONE)
def clean_batch_task(
    extracted: ExtractedBatch | Any,
    store: ArticleStore,
    settings: CleanSettings,
    summary: RunSummary,
    run: RunBoilerplate | None = None,
    on_workers: Callable[[Any, ArticleStore], CleanedBatch] | None = None,
) -> CleanedBatch:
    """Remove boilerplate from a batch's articles (`on_workers`: cleans it there, given the batch or its future)."""
    with summary.timed("clean"):
        if on_workers is not None:
            return on_workers(extracted, store)
        return clean_batch(extracted, store, settings, run)


@task(name="learn-boilerplate", cache_policy=NONE)
def learn_run_boilerplate_task(
    batches: Iterable[ExtractedBatch | EvidenceBatch],
    settings: CleanSettings,
    summary: RunSummary,
    on_batch: Callable[[int], None] | None = None,
) -> RunBoilerplate:
    """What boilerplate looks like across every file the run reads, before any is cleaned (files are read twice).

    `batches`: every batch of the run, extracted (here or by workers); `on_batch` hears how many files each
    batch read (the run's progress)."""

    def counted() -> Iterator[ExtractedBatch]:
        for batch in batches:
            yield batch
            if on_batch is not None:
                on_batch(len(batch.files))

    with summary.timed("learn_boilerplate"):
        return learn_run_boilerplate(counted(), settings)
