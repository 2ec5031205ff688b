from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import DEFAULT_GRAPH_API_BASE, load_settings


def test_defaults_are_embedded_and_offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert str(settings.data_dir) == "var"
    assert settings.database_url_resolved == f"sqlite:///{(tmp_path / 'var' / 'wepos.db')}"
    assert settings.chroma_url is None and settings.chroma_dir.as_posix() == "var/chroma"
    assert settings.whatsapp_api_base == DEFAULT_GRAPH_API_BASE
    assert settings.llm_provider == "extractive"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WEPOS_PORT", "not-a-port"),
        ("WEPOS_CHROMA_URL", "localhost:8000"),
        ("WEPOS_DATABASE_URL", "mysql://x"),
        ("WEPOS_LLM_PROVIDER", "gpt"),
        ("WEPOS_MIN_CONFIDENCE", "7"),
        ("WEPOS_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
    variable: str,
    value: str,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in caught.value.message


def test_production_refuses_missing_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEPOS_ENV", "production")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "WEPOS_WHATSAPP_APP_SECRET" in caught.value.message


def test_openai_provider_needs_a_model(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEPOS_LLM_PROVIDER", "openai")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "WEPOS_LLM_MODEL" in caught.value.message


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WEPOS_PORT=9123\n")
    assert load_settings().port == 9123
