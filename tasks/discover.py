"""Discovery: the input files under the given roots, by stat (and by their first bytes where the name does not say)."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import DiscoverSettings
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.readers.decode import GZIP_MAGIC, binary_kind
from newsetl.tasks.readers.sniff import sniff_format
from newsetl.tasks.records import (
    OUTSIDE_ROOT,
    SYMLINK_LOOP,
    TOO_LARGE,
    UNREADABLE,
    Quarantine,
    RunSummary,
    SourceFile,
)

# Format name (tasks/readers/__init__.py) of each extension (lower case, without a trailing .gz).
# Files whose extension is not in DiscoverSettings.extensions are counted `skipped` by type.
FORMAT_OF_EXTENSION = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".warc": "warc",
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",
    ".odt": "odt",
    ".fodt": "odt",
    ".rtf": "rtf",
    ".doc": "doc",
    ".dot": "doc",
    ".eml": "eml",
    ".mht": "eml",
    ".mhtml": "eml",
    ".xml": "xml",  # NewsML-G2, NITF, RSS or Atom: the root element says which
    ".nitf": "xml",
    ".newsml": "xml",
    ".rss": "xml",
    ".atom": "xml",
}
# Saved web pages under a server's extension: read, their content says what they are.
SNIFFED_EXTENSIONS = (".shtml", ".shtm", ".php", ".asp", ".aspx", ".jsp", ".cfm")
NO_EXTENSION = "(no extension)"  # the type a skipped file without an extension is counted under
GZIP_SUFFIX = ".gz"
SNIFF_HEAD_BYTES = 4096

FileId = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """What discovery found: input files (sorted by path), files it refused, roots that do not exist."""

    files: tuple[SourceFile, ...]
    quarantined: tuple[Quarantine, ...] = ()
    missing_roots: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (path, type): files of no article format, by extension


def file_format(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """(format name, gzipped?) from a file name; the format is "" when the name does not say (the content will)."""
    extension, gzipped = file_extension(path)
    return FORMAT_OF_EXTENSION.get(extension, ""), gzipped


def file_extension(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """(lower-case extension without a trailing .gz, gzipped?): ("", False) for "README"."""
    name = os.path.basename(os.fspath(path)).lower()
    gzipped = name.endswith(GZIP_SUFFIX) and name != GZIP_SUFFIX
    if gzipped:
        name = name[: -len(GZIP_SUFFIX)]
    return os.path.splitext(name)[1], gzipped


def file_type(path: str | os.PathLike[str]) -> str:
    """How a skipped file is counted: its extension (".jpg", ".tar.gz"), or "(no extension)"."""
    extension, gzipped = file_extension(path)
    if not extension:
        return GZIP_SUFFIX if gzipped else NO_EXTENSION
    return extension + GZIP_SUFFIX if gzipped else extension


@dataclass(frozen=True, slots=True)
class PathPatterns:
    """Include/exclude globs on a root-relative path; a glob without "/" matches any one path part."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    include_any_part: tuple[re.Pattern[str], ...] = ()
    exclude_any_part: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_globs(cls, include: Iterable[str], exclude: Iterable[str]) -> PathPatterns:
        include, exclude = [g.strip().lstrip("/") for g in include], [g.strip().lstrip("/") for g in exclude]
        return cls(
            include=tuple(glob_to_regex(g) for g in include if g and "/" in g),
            exclude=tuple(glob_to_regex(g) for g in exclude if g and "/" in g),
            include_any_part=tuple(glob_to_regex(g) for g in include if g and "/" not in g),
            exclude_any_part=tuple(glob_to_regex(g) for g in exclude if g and "/" not in g),
        )

    def accepts(self, relative_path: str) -> bool:
        """Whether a file at this root-relative path is wanted."""
        parts = relative_path.split("/")
        if self.include or self.include_any_part:
            if not (
                any(p.match(relative_path) for p in self.include)
                or any(p.match(part) for p in self.include_any_part for part in parts)
            ):
                return False
        return not (
            any(p.match(relative_path) for p in self.exclude)
            or any(p.match(part) for p in self.exclude_any_part for part in parts)
        )

    def prunes_folder(self, name: str) -> bool:
        """Whether a folder of this name is excluded with everything under it."""
        return any(p.match(name) for p in self.exclude_any_part)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob: `*` and `?` stay inside one folder, `**` crosses folders, `**/` may match none."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            if pattern.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            else:
                out.append(".*")
                i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            negate = body[:1] in ("!", "^")
            body = re.escape(body[1:] if negate else body).replace(r"\-", "-")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = close + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def discover_files(roots: Sequence[str | Path], settings: DiscoverSettings) -> DiscoveryResult:
    """Every readable input file under the roots (folders are walked, files taken as named)."""
    walk = _Walk(settings, [os.path.abspath(os.fspath(root)) for root in roots])
    return walk.run()


@dataclass
class _Walk:
    """The state of one discovery run (lives only inside discover_files)."""

    settings: DiscoverSettings
    roots: list[str]
    patterns: PathPatterns = field(init=False)
    extensions: frozenset[str] = field(init=False)
    allowed: list[str] = field(default_factory=list)  # real paths of the roots: the only places inputs may live
    files: dict[str, tuple[SourceFile, FileId, bool]] = field(default_factory=dict)  # path -> (file, id, via a link?)
    quarantined: dict[str, Quarantine] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> type
    missing: list[str] = field(default_factory=list)
    walked_folders: set[FileId] = field(default_factory=set)
    # Folders reached through a symlink, walked after every real folder so that a file's real
    # path wins over a path through a link: (folder path, root, ids of the folders above it).
    linked_folders: list[tuple[str, str, frozenset[FileId]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.patterns = PathPatterns.from_globs(self.settings.include, self.settings.exclude)
        self.extensions = frozenset(ext.lower() for ext in self.settings.extensions)

    def run(self) -> DiscoveryResult:
        existing = []
        for root in self.roots:
            if os.path.lexists(root):
                existing.append(root)
                self.allowed.append(os.path.realpath(root))
            else:
                self.missing.append(root)
        for root in existing:
            try:
                is_folder = os.path.isdir(root)
                root_stat = os.stat(root)
            except OSError as error:
                self._quarantine_os_error(root, error)
                continue
            if is_folder:
                self._walk_folder(root, root, frozenset(), via_link=False)
            else:
                self._add_named_file(root, root_stat)
        while self.linked_folders:
            folder, root, ancestors = self.linked_folders.pop(0)
            self._walk_folder(folder, root, ancestors, via_link=True)
        return DiscoveryResult(
            files=self._unique_files(),
            quarantined=tuple(sorted(self.quarantined.values(), key=lambda q: q.path)),
            missing_roots=tuple(self.missing),
            skipped=tuple(sorted(self.skipped.items())),
        )

    def _unique_files(self) -> tuple[SourceFile, ...]:
        # NOTE: one physical file reached by its own path and through a symlink is kept once,
        # under its own path; hard links (two real paths) are both kept, as two sources.
        real_ids = {file_id for _, file_id, via_link in self.files.values() if not via_link}
        kept: list[SourceFile] = []
        for path in sorted(self.files):
            source, file_id, via_link = self.files[path]
            if via_link:
                if file_id in real_ids:
                    continue
                real_ids.add(file_id)
            kept.append(source)
        return tuple(kept)

    def _add_named_file(self, path: str, file_stat: os.stat_result) -> None:
        # A file named as a root is taken even when hidden or outside the include patterns, and
        # otherwise treated as the same file found in a folder.
        self._add_file(path, path, file_stat, via_link=False)

    def _article_format(self, path: str, sniff: bool) -> bool:
        """Whether a file is read: its extension is in the list (or it has none) and, when the name does
        not say the format, its first bytes are an article format's."""
        extension, _ = file_extension(path)
        if extension and extension not in self.extensions:
            return False
        if FORMAT_OF_EXTENSION.get(extension) or not sniff:
            return True
        # No extension, a server page's (.php) or one the user added: a look at the content.
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(descriptor, "rb") as stream:
                head = stream.read(SNIFF_HEAD_BYTES)
        except OSError:
            return True  # reading will quarantine it with the reason
        return head.startswith(GZIP_MAGIC) or sniff_format(head, binary_kind) is not None

    def _add_file(self, path: str, root: str, file_stat: os.stat_result, via_link: bool) -> None:
        if path in self.files or path in self.quarantined or path in self.skipped:
            return  # reached again from an overlapping root
        if not stat.S_ISREG(file_stat.st_mode):
            self.quarantined[path] = Quarantine(path, UNREADABLE, "not a regular file")
            return
        if not self._article_format(path, sniff=False):  # a video is skipped, whatever its size
            self.skipped[path] = file_type(path)
            return
        if file_stat.st_size > self.settings.max_file_bytes:
            detail = f"{file_stat.st_size} bytes, limit {self.settings.max_file_bytes}"
            self.quarantined[path] = Quarantine(path, TOO_LARGE, detail)
            return
        if not os.access(path, os.R_OK):
            self.quarantined[path] = Quarantine(path, UNREADABLE, "permission denied")
            return
        if not self._article_format(path, sniff=True):
            self.skipped[path] = file_type(path)
            return
        source = SourceFile(
            path=path, root=root, size=file_stat.st_size, mtime=file_stat.st_mtime, inode=file_stat.st_ino
        )
        self.files[path] = (source, (file_stat.st_dev, file_stat.st_ino), via_link)

    def _walk_folder(self, start: str, root: str, ancestors: frozenset[FileId], via_link: bool) -> None:
        # Iterative depth-first walk: no recursion, whatever the depth of the tree.
        stack = [(start, ancestors)]
        while stack:
            folder, above = stack.pop()
            try:
                folder_stat = os.stat(folder)
            except OSError as error:
                self._quarantine_os_error(folder, error)
                continue
            folder_id = (folder_stat.st_dev, folder_stat.st_ino)
            if folder_id in above:
                self.quarantined[folder] = Quarantine(folder, SYMLINK_LOOP, "links back to a folder above it")
                continue
            if folder_id in self.walked_folders:
                continue  # the same folder seen through another path: its files are already found
            self.walked_folders.add(folder_id)
            inside = above | {folder_id}
            try:
                with os.scandir(folder) as scan:
                    entries = sorted(scan, key=lambda entry: entry.name, reverse=True)
            except OSError as error:
                self._quarantine_os_error(folder, error)
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink():
                    self._follow_link(entry, root, inside, via_link)
                elif entry.is_dir(follow_symlinks=False):
                    if not self.patterns.prunes_folder(entry.name):
                        stack.append((entry.path, inside))
                elif self._wanted(entry.path, entry.name, root):
                    try:
                        entry_stat = entry.stat(follow_symlinks=False)
                    except OSError as error:
                        self._quarantine_os_error(entry.path, error)
                        continue
                    self._add_file(entry.path, root, entry_stat, via_link)

    def _wanted(self, path: str, name: str, root: str) -> bool:
        return self.patterns.accepts(path[len(root) :].lstrip("/"))

    def _named_article(self, name: str) -> bool:
        extension, _ = file_extension(name)
        return bool(FORMAT_OF_EXTENSION.get(extension)) and extension in self.extensions

    def _follow_link(self, entry: os.DirEntry[str], root: str, above: frozenset[FileId], via_link: bool) -> None:
        try:
            target_stat = entry.stat(follow_symlinks=True)
        except OSError as error:
            # A link pointing at itself (or a ring of links) fails with ELOOP; a dangling
            # link only matters when its name says it is an input.
            if error.errno == errno.ELOOP:
                self.quarantined[entry.path] = Quarantine(entry.path, SYMLINK_LOOP, "symlink points back to itself")
            elif self._wanted(entry.path, entry.name, root) and self._named_article(entry.name):
                self._quarantine_os_error(entry.path, error)
            return
        is_folder = stat.S_ISDIR(target_stat.st_mode)
        if is_folder and self.patterns.prunes_folder(entry.name):
            return
        wanted = self._wanted(entry.path, entry.name, root) and self._article_format(entry.path, sniff=False)
        if not is_folder and not wanted:
            # A link is no regular file: its target, when under a root, is counted by its own path.
            return
        target = os.path.realpath(entry.path)
        if not any(target == area or target.startswith(area.rstrip("/") + "/") for area in self.allowed):
            self.quarantined[entry.path] = Quarantine(entry.path, OUTSIDE_ROOT, f"symlink to {target}")
            return
        if is_folder:
            self.linked_folders.append((entry.path, root, above))
        else:
            self._add_file(entry.path, root, target_stat, via_link=True)

    def _quarantine_os_error(self, path: str, error: OSError) -> None:
        reason = SYMLINK_LOOP if error.errno == errno.ELOOP else UNREADABLE
        self.quarantined[path] = Quarantine(path, reason, error.strerror or type(error).__name__)


@task(name="discover", cache_policy=NONE)
def discover_task(roots: Sequence[str], settings: DiscoverSettings, summary: RunSummary) -> DiscoveryResult:
    """Find the input files under the roots (stat only); a root that does not exist stops the run."""
    with summary.timed("discover"):
        found = discover_files(roots, settings)
        if found.missing_roots:
            raise NewsetlError(f"no such file or folder: {', '.join(found.missing_roots)}")
        summary.files_seen += len(found.files) + len(found.quarantined) + len(found.skipped)
        for _path, kind in found.skipped:
            summary.count_skipped(kind)
    return found
