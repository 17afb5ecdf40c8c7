"""Settings are validated when loaded: types, ranges, unknown keys and variables, index names."""

from __future__ import annotations

import dataclasses

import pytest

from newsetl.config.settings import (
    OTHER_ENV,
    RANGES,
    SETTINGS_FILE,
    Settings,
    SettingsError,
    check_index_name,
    env_name,
    load_settings,
    validate,
)


def load_toml(tmp_path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(environ or {}, path)


def test_the_shipped_settings_file_loads_and_equals_the_code_defaults():
    assert load_settings({}, SETTINGS_FILE) == dataclasses.replace(load_settings({}, SETTINGS_FILE))
    validate(Settings())


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSETL_FLOW_BATCH_SIZE", "-1", "NEWSETL_FLOW_BATCH_SIZE: -1 is out of range"),
        ("NEWSETL_FLOW_BATCH_SIZE", "0", "NEWSETL_FLOW_BATCH_SIZE: 0 is out of range"),
        ("NEWSETL_FLOW_BATCH_SIZE", "1.5", "NEWSETL_FLOW_BATCH_SIZE: cannot use '1.5' (not a whole number)"),
        ("NEWSETL_ES_MAX_RETRIES", "-3", "NEWSETL_ES_MAX_RETRIES: -3 is out of range"),
        ("NEWSETL_CLEAN_REPEAT_RATIO", "nan", "NEWSETL_CLEAN_REPEAT_RATIO: nan is out of range"),
        ("NEWSETL_DEDUPE_THRESHOLD", "1.5", "NEWSETL_DEDUPE_THRESHOLD: 1.5 is out of range"),
        ("NEWSETL_ES_VERIFY_CERTS", "maybe", "NEWSETL_ES_VERIFY_CERTS: cannot use 'maybe' (not true or false)"),
        ("NEWSETL_EXTRACT_MAX_HTML_DEPTH", "1000", "NEWSETL_EXTRACT_MAX_HTML_DEPTH: 1000 is out of range"),
        ("NEWSETL_ES_URL", "localhost:9200", "NEWSETL_ES_URL: not an http(s) URL"),
    ],
)
def test_a_bad_value_in_the_environment_is_one_line_naming_the_variable(name, value, message):
    with pytest.raises(SettingsError) as error:
        load_settings({name: value})
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("index", "why"),
    [
        ("ADVUP", "must be lowercase"),
        ("my articles", "must not contain ' '"),
        ("a,b", "must not contain ','"),
        ("_articles", "must not start with '_'"),
        ("-articles", "must not start with '-'"),
        ("a" * 250, "is longer than"),
    ],
)
def test_invalid_index_names_are_refused_at_load(index, why):
    with pytest.raises(SettingsError, match=f"NEWSETL_INDEX: invalid index name .*{why}"):
        load_settings({"NEWSETL_INDEX": index})


def test_valid_index_names_pass():
    with pytest.raises(SettingsError, match="is empty"):
        check_index_name("")
    for name in ("articles", "news-2024", "team.a_b", "é-articles"):
        assert check_index_name(name) == name
        assert load_settings({"NEWSETL_INDEX": name}).es.index == name


def test_unknown_environment_variables_name_the_closest_setting():
    with pytest.raises(
        SettingsError,
        match=r"unknown environment variable NEWSETL_FLOW_BATCHSIZE \(did you mean NEWSETL_FLOW_BATCH_SIZE\?\)",
    ):
        load_settings({"NEWSETL_FLOW_BATCHSIZE": "3"})
    with pytest.raises(SettingsError, match=r"NEWSETL_IDX \(did you mean NEWSETL_INDEX\?\)"):
        load_settings({"NEWSETL_IDX": "x"})
    with pytest.raises(SettingsError, match="unknown environment variable NEWSETL_ZZZZZZZZ$"):
        load_settings({"NEWSETL_ZZZZZZZZ": "x"})


def test_variables_of_other_tools_and_secrets_are_not_settings_errors():
    environ = {name: "x" for name in OTHER_ENV}
    environ.update(NEWSETL_SETTINGS_FILE=str(SETTINGS_FILE), NEWSETL_ES_API_KEY="key-secret", NEWSETL_ES_PASSWORD="p")
    environ.update(KIBANA_PASSWORD="kp", NEWSETL_DASK_ADDRESS="tcp://127.0.0.1:8786", NEWSETL_CORPORA="/x")
    settings = load_settings(environ)
    assert settings.es.api_key == "key-secret" and "key-secret" not in repr(settings)


def test_every_setting_has_an_environment_name_that_loads():
    for section in dataclasses.fields(Settings):
        for key in dataclasses.fields(getattr(Settings(), section.name)):
            name = env_name(section.name, key.name)
            default = getattr(getattr(Settings(), section.name), key.name)
            text = (
                ",".join(f"{k}={'|'.join(v)}" for k, v in default.items())  # enrich.models: en=a|b,fr=c
                if isinstance(default, dict)
                else ",".join(default)
                if isinstance(default, tuple)
                else str(default).lower()
                if isinstance(default, bool)
                else str(default)
            )
            if text:
                assert getattr(getattr(load_settings({name: text}), section.name), key.name) == default, name


def test_unknown_keys_and_sections_in_the_file_name_the_closest_setting(tmp_path):
    with pytest.raises(SettingsError, match=r"unknown setting flow.batchsize \(did you mean flow.batch_size\?\)"):
        load_toml(tmp_path, "[flow]\nbatchsize = 3\n")
    with pytest.raises(SettingsError, match=r"unknown section \[flows\] \(did you mean flow\?\)"):
        load_toml(tmp_path, "[flows]\nbatch_size = 3\n")


def test_values_of_the_wrong_type_in_the_file_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="flow.batch_size: cannot use '2.5' .not a whole number"):
        load_toml(tmp_path, "[flow]\nbatch_size = 2.5\n")
    with pytest.raises(SettingsError, match="flow.schedule_cron: cannot use '5' .not a string"):
        load_toml(tmp_path, "[flow]\nschedule_cron = 5\n")
    with pytest.raises(SettingsError, match="dedupe.threshold: 2.0 is out of range"):
        load_toml(tmp_path, "[dedupe]\nthreshold = 2\n")
    assert load_toml(tmp_path, '[flow]\nbatch_size = "7"\n').flow.batch_size == 7


def test_a_secret_in_the_file_is_an_error_pointing_at_the_environment(tmp_path):
    with pytest.raises(
        SettingsError, match="es.api_key is a secret: set NEWSETL_ES_API_KEY in the environment instead"
    ):
        load_toml(tmp_path, '[es]\napi_key = "oops"\n')


def test_cross_setting_rules():
    with pytest.raises(SettingsError, match=r"dedupe.bands \(30\) must divide dedupe.num_perm \(128\)"):
        load_settings({"NEWSETL_DEDUPE_BANDS": "30"})
    with pytest.raises(SettingsError, match="min_text_chars is larger than extract.max_text_chars"):
        load_settings({"NEWSETL_EXTRACT_MIN_TEXT_CHARS": "500", "NEWSETL_EXTRACT_MAX_TEXT_CHARS": "100"})


def test_overrides_are_validated_too():
    with pytest.raises(SettingsError, match="flow.batch_size: 0 is out of range"):
        load_settings({}, flow={"batch_size": 0})
    with pytest.raises(SettingsError, match=r"unknown setting flow.batchsize"):
        load_settings({}, flow={"batchsize": 2})
    with pytest.raises(SettingsError, match="flow.batch_size: -5 is out of range"):
        validate(dataclasses.replace(Settings(), flow=dataclasses.replace(Settings().flow, batch_size=-5)))


def test_every_range_names_an_existing_numeric_setting_and_holds_its_default():
    defaults = Settings()
    for (section, key), (low, high) in RANGES.items():
        value = getattr(getattr(defaults, section), key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (section, key)
        assert low <= value <= high, (section, key)
