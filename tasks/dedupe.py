"""Deduplication: exact duplicates by article id, near-duplicates by MinHash + LSH over body shingles.

Order independence: an edge between two articles depends only on the pair (they share an LSH band
key and their signatures agree on at least `threshold` of the rows), clusters are the connected
components of those edges, and the canonical article is the minimum of a total order over the
members. Nothing depends on which article came first, in the same run or across runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from newsetl.config.settings import DedupeSettings
from newsetl.tasks.records import CleanArticle, SourceRef, pickled_as_constructed

# Bump when shingling, hashing or the permutations change: it is part of every band key, so
# signatures of another scheme never become candidates (they need re-sketching, not comparing).
SCHEME_VERSION = 1

_APOSTROPHES = re.compile(r"['’ʼ]")
# Scripts written without spaces (Han, kana) are shingled by character; others by word.
_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORDS = re.compile(f"[{_UNSPACED}]|[^\\W_{_UNSPACED}]+")
_SIGNATURE_DTYPE = np.dtype("<u4")
_EMPTY_SIGNATURE_VALUE = np.uint32(0xFFFFFFFF)
# Shingles are fed to the permutations in chunks so a huge body needs bounded memory.
_SHINGLE_CHUNK = 4096

# Polynomial string hash modulo 2**64 over UTF-8 bytes (FNV prime as base; any odd base is
# invertible modulo 2**64). Its known weakness needs strings of thousands of bytes; shingles are
# a few dozen, and the murmur3 finaliser below spreads the bits.
_POLY_BASE = 0x100000001B3
_POLY_BASE_INVERSE = pow(_POLY_BASE, -1, 2**64)
_FMIX_SHIFT = np.uint64(33)
_FMIX_C1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_SPACE = 0x20


@dataclass(frozen=True, slots=True)
class ExactGroup:
    """Every copy of one cleaned text: one article document with all its sources."""

    id: str
    representative: CleanArticle  # the copy with the smallest (path, record); its metadata is the document's
    sources: tuple[SourceRef, ...]  # sorted by (path, record)

    @property
    def duplicates(self) -> int:
        return len(self.sources) - 1


@pickled_as_constructed
@dataclass(frozen=True, slots=True, eq=False)
class BodySketch:
    """What near-duplicate search stores for a body: its MinHash signature and LSH band keys."""

    signature: np.ndarray  # uint32[num_perm]
    shingles: int  # distinct word shingles of the normalised body
    band_keys: tuple[str, ...]  # empty when the body is too short to compare (min_shingles)

    @property
    def comparable(self) -> bool:
        return bool(self.band_keys)


@dataclass(frozen=True, slots=True, eq=False)
class NearDupCandidate:
    """An article as clustering sees it; existing ones come from their stored fields."""

    id: str
    signature: np.ndarray | None  # None: too short to compare, joins clusters only via cluster_id
    published_at: str | None
    word_count: int
    cluster_id: str | None = None  # the stored cluster of an existing article; None for a new one


@dataclass(frozen=True, slots=True)
class ClusterAssignment:
    cluster_id: str  # id of the cluster's canonical article
    is_canonical: bool


def group_exact_duplicates(articles: Sequence[CleanArticle]) -> list[ExactGroup]:
    """One group per article id, sorted by id; sources and representative independent of input order."""
    by_id: dict[str, list[CleanArticle]] = defaultdict(list)
    for article in articles:
        by_id[article.id].append(article)
    groups = []
    for article_id in sorted(by_id):
        copies = sorted(by_id[article_id], key=representative_order)
        sources = {_source_key(copy.source): copy.source for copy in copies}  # a file listed twice counts once
        groups.append(ExactGroup(id=article_id, representative=copies[0], sources=tuple(sources.values())))
    return groups


def representative_order(article: CleanArticle) -> tuple[str, str]:
    """Sort key of the copies of one text: the first one's metadata (date, url) becomes the document's."""
    return _source_key(article.source)


def _source_key(source: SourceRef) -> tuple[str, str]:
    return (source.path, source.record or "")


def shingle_hashes(body: str, shingle_words: int) -> np.ndarray:
    """Sorted distinct 64-bit hashes of the body's word shingles (casefolded, punctuation dropped)."""
    words = _WORDS.findall(_APOSTROPHES.sub("", body.casefold()))
    if not words:
        return np.zeros(0, dtype=np.uint64)
    text = np.frombuffer(" ".join(words).encode("utf-8"), dtype=np.uint8).astype(np.uint64)
    size = len(text)
    powers = np.full(size + 1, _POLY_BASE, dtype=np.uint64)
    powers[0] = 1
    inverse_powers = np.full(size + 1, _POLY_BASE_INVERSE, dtype=np.uint64)
    inverse_powers[0] = 1
    # NOTE: numpy integer arrays wrap silently on overflow; here that is the modulo 2**64 we want.
    powers, inverse_powers = np.cumprod(powers), np.cumprod(inverse_powers)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.cumsum((text + np.uint64(1)) * powers[:size], out=prefix[1:])

    spaces = np.flatnonzero(text == _SPACE)
    word_starts = np.concatenate(([0], spaces + 1))
    word_ends = np.concatenate((spaces, [size]))
    count = max(len(words) - shingle_words + 1, 1)  # a body shorter than one shingle is one shingle
    starts = word_starts[:count]
    ends = word_ends[np.minimum(np.arange(count) + shingle_words - 1, len(words) - 1)]
    # hash of text[start:end] = (prefix[end] - prefix[start]) / base**start, position-free
    span_hashes = (prefix[ends] - prefix[starts]) * inverse_powers[starts]
    return np.unique(_fmix64(span_hashes ^ (ends - starts).astype(np.uint64)))


def minhash_signature(body: str, settings: DedupeSettings) -> np.ndarray:
    """MinHash signature (uint32[num_perm]) of the body's word shingles; the same on every machine."""
    return _signature_of(shingle_hashes(body, settings.shingle_words), settings.num_perm)


def sketch_body(body: str, settings: DedupeSettings) -> BodySketch:
    """Signature, shingle count and band keys of a body (no band keys when it is too short to compare)."""
    shingles = shingle_hashes(body, settings.shingle_words)
    signature = _signature_of(shingles, settings.num_perm)
    comparable = len(shingles) >= settings.min_shingles
    return BodySketch(
        signature=signature,
        shingles=len(shingles),
        band_keys=tuple(lsh_band_keys(signature, settings)) if comparable else (),
    )


def _signature_of(shingles: np.ndarray, num_perm: int) -> np.ndarray:
    if len(shingles) == 0:
        return np.full(num_perm, _EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
    multipliers, offsets = _permutation_parameters(num_perm)
    minimum = np.full(num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    for begin in range(0, len(shingles), _SHINGLE_CHUNK):
        # h_i(x) = (a_i * x + b_i) mod 2**64, keeping the high 32 bits (multiply-shift hashing);
        # the min commutes with the shift, so shift once at the end.
        values = np.multiply.outer(shingles[begin : begin + _SHINGLE_CHUNK], multipliers) + offsets
        np.minimum(minimum, values.min(axis=0), out=minimum)
    return (minimum >> np.uint64(32)).astype(np.uint32)


def _permutation_parameters(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # Derived from a fixed string with SHAKE-256, not from numpy's RNG, whose streams may change.
    stream = hashlib.shake_256(f"newsetl-minhash-v{SCHEME_VERSION}".encode()).digest(16 * num_perm)
    words = np.frombuffer(stream, dtype="<u8").astype(np.uint64)
    return words[:num_perm] | np.uint64(1), words[num_perm:]


def _fmix64(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> _FMIX_SHIFT)
    values = values * _FMIX_C1
    values = values ^ (values >> _FMIX_SHIFT)
    values = values * _FMIX_C2
    return values ^ (values >> _FMIX_SHIFT)


def signature_scheme(settings: DedupeSettings) -> str:
    """Names what a signature depends on; signatures of different schemes must not be compared."""
    return f"mh{SCHEME_VERSION}w{settings.shingle_words}p{settings.num_perm}b{settings.bands}"


def lsh_band_keys(signature: np.ndarray, settings: DedupeSettings) -> list[str]:
    """LSH band keys such as "b07:3fa2c9d1e04b": two articles are candidates when they share one."""
    _check_signature(signature, settings.num_perm)
    if settings.num_perm % settings.bands:
        raise ValueError(f"dedupe.bands ({settings.bands}) must divide dedupe.num_perm ({settings.num_perm})")
    rows = settings.num_perm // settings.bands
    scheme = signature_scheme(settings).encode()[:16]
    data = signature.astype(_SIGNATURE_DTYPE).tobytes()
    width = len(str(settings.bands - 1))
    keys = []
    for band in range(settings.bands):
        digest = hashlib.blake2b(data[band * rows * 4 : (band + 1) * rows * 4], digest_size=6, person=scheme)
        keys.append(f"b{band:0{width}d}:{digest.hexdigest()}")
    return keys


def encode_signature(signature: np.ndarray) -> str:
    """The signature as base64 of little-endian uint32 (stored in the document, not indexed)."""
    return base64.b64encode(signature.astype(_SIGNATURE_DTYPE).tobytes()).decode("ascii")


def decode_signature(encoded: str) -> np.ndarray:
    """Inverse of encode_signature."""
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) % 4:
        raise ValueError(f"not a signature: {len(raw)} bytes")
    return np.frombuffer(raw, dtype=_SIGNATURE_DTYPE).astype(np.uint32)


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Share of signature rows on which two signatures agree: an estimate of their shingle Jaccard."""
    if first.shape != second.shape:
        raise ValueError(f"signatures differ in length: {first.shape} vs {second.shape}")
    return float(np.mean(first == second))


def exact_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Jaccard similarity of two sorted distinct shingle-hash arrays (from shingle_hashes)."""
    union = len(np.union1d(first, second))
    return len(np.intersect1d(first, second, assume_unique=True)) / union if union else 1.0


def find_candidate_pairs(
    signatures: Mapping[str, np.ndarray], settings: DedupeSettings, involving: Set[str] | None = None
) -> set[tuple[str, str]]:
    """Pairs of ids (smaller first) whose signatures share an LSH band key; with `involving`, only pairs touching it."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for article_id, signature in signatures.items():
        for key in lsh_band_keys(signature, settings):
            buckets[key].append(article_id)
    pairs = set()
    for members in buckets.values():
        if len(members) < 2:
            continue
        focus = members if involving is None else [member for member in members if member in involving]
        for first in focus:
            pairs.update((min(first, second), max(first, second)) for second in members if second != first)
    return pairs


def canonical_order(candidate: NearDupCandidate) -> tuple:
    """Sort key whose minimum is a cluster's canonical article: earliest published, then longest, then smallest id."""
    published = _timestamp(candidate.published_at)
    return (published is None, published or 0.0, -candidate.word_count, candidate.id)


def _timestamp(published_at: str | None) -> float | None:
    if not published_at:
        return None
    try:
        moment = datetime.fromisoformat(published_at)
    except ValueError:
        return None  # unreadable counts as unknown: latest
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # dates and naive times are taken as UTC
    return moment.timestamp()


def resolve_clusters(
    new: Sequence[NearDupCandidate], existing: Sequence[NearDupCandidate], settings: DedupeSettings
) -> dict[str, ClusterAssignment]:
    """Cluster assignments of every given article, new and existing, after adding the new ones.

    Edges: two comparable articles (signature not None), at least one of them new, that share an LSH
    band key and whose estimated Jaccard is >= settings.threshold. Existing articles keep their stored
    clusters and are joined through them. Clusters are connected components. Canonical rule: the
    earliest published_at (None or unreadable counts as latest), then the largest word_count, then
    the smallest id; cluster_id is the canonical article's id.

    `existing` must hold every stored article sharing a band key with a new one AND every member of
    those articles' clusters (so each cluster's canonical can move); signatures are needed only for
    the former. With new=[] this recomputes the canonicals of the given clusters (e.g. after a
    published_at changed).
    """
    articles = {candidate.id: candidate for candidate in existing}
    for candidate in new:
        if candidate.id in articles:
            raise ValueError(f"article {candidate.id} is both new and existing")
        articles[candidate.id] = candidate
    new_ids = {candidate.id for candidate in new}

    parent = {article_id: article_id for article_id in articles}

    def find(article_id: str) -> str:
        while parent[article_id] != article_id:
            parent[article_id] = parent[parent[article_id]]
            article_id = parent[article_id]
        return article_id

    def union(first: str, second: str) -> None:
        first, second = find(first), find(second)
        if first != second:
            parent[max(first, second)] = min(first, second)

    for candidate in existing:
        if candidate.cluster_id is None:
            raise ValueError(f"existing article {candidate.id} has no cluster_id")
        if candidate.cluster_id not in articles:
            raise ValueError(f"cluster {candidate.cluster_id} of {candidate.id} is not among the existing articles")
        union(candidate.id, candidate.cluster_id)

    for first, second in _verified_pairs(articles, new_ids, settings):
        union(first, second)

    components: dict[str, list[NearDupCandidate]] = defaultdict(list)
    for article_id, candidate in articles.items():
        components[find(article_id)].append(candidate)
    assignments = {}
    for members in components.values():
        canonical_id = min(members, key=canonical_order).id
        for member in members:
            assignments[member.id] = ClusterAssignment(cluster_id=canonical_id, is_canonical=member.id == canonical_id)
    return assignments


def _verified_pairs(
    articles: Mapping[str, NearDupCandidate], new_ids: set[str], settings: DedupeSettings
) -> Iterable[tuple[str, str]]:
    signatures = {
        article_id: candidate.signature
        for article_id, candidate in articles.items()
        if candidate.signature is not None
    }
    for signature in signatures.values():
        _check_signature(signature, settings.num_perm)
    # Pairs of two existing articles were decided when the later of them arrived.
    pairs = sorted(find_candidate_pairs(signatures, settings, involving=new_ids))
    if not pairs:
        return []
    firsts = np.stack([signatures[first] for first, _ in pairs])
    seconds = np.stack([signatures[second] for _, second in pairs])
    agreement = (firsts == seconds).mean(axis=1)
    return [pair for pair, share in zip(pairs, agreement) if share >= settings.threshold]


def _check_signature(signature: np.ndarray, num_perm: int) -> None:
    if signature.shape != (num_perm,):
        raise ValueError(f"signature has shape {signature.shape}, settings expect ({num_perm},)")


def candidate_from_article(article: CleanArticle, sketch: BodySketch) -> NearDupCandidate:
    """A new article as clustering sees it."""
    return NearDupCandidate(
        id=article.id,
        signature=sketch.signature if sketch.comparable else None,
        published_at=article.published_at,
        word_count=article.word_count,
    )
