"""Settings: prefix, .env, secrets masked, and one readable line per bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import ReceiverSettings, WorkerSettings, load_settings

APPID = "wxba5fad812f8e6fb9"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty directory with no WXFACE_ variables set."""
    monkeypatch.chdir(tmp_path)
    import os

    for name in list(os.environ):
        if name.startswith("WXFACE_"):
            monkeypatch.delenv(name)


def test_receiver_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """WXFACE_ variables fill the receiver model, with the contract's defaults."""
    monkeypatch.setenv("WXFACE_APPID", APPID)
    monkeypatch.setenv("WXFACE_TOKEN", "AAAAA")
    monkeypatch.setenv("WXFACE_ENCODING_AES_KEY", KEY)
    s = load_settings(ReceiverSettings)
    assert s.appid == APPID
    assert s.token.get_secret_value() == "AAAAA"
    assert s.amqp_prefix == "wxface"
    assert s.http_port == 8080
    assert s.database_url == "sqlite:///./wxface.db"
    assert s.allow_plaintext_push is False


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    """A .env file in the working directory is a settings source."""
    (tmp_path / ".env").write_text(f"WXFACE_APPID={APPID}\nWXFACE_TOKEN=tok\n")
    assert load_settings(ReceiverSettings).appid == APPID


def test_secrets_are_masked_in_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    """repr/str of settings never contain a secret value."""
    monkeypatch.setenv("WXFACE_APPID", APPID)
    monkeypatch.setenv("WXFACE_TOKEN", "very-secret-token")
    monkeypatch.setenv("WXFACE_ENCODING_AES_KEY", KEY)
    dump = repr(load_settings(ReceiverSettings))
    assert "very-secret-token" not in dump
    assert KEY not in dump
    assert "guest:guest" not in dump


def test_missing_required_setting_is_one_line() -> None:
    """A missing required variable is named in a single line."""
    with pytest.raises(ConfigError) as info:
        load_settings(WorkerSettings)
    msg = str(info.value)
    assert "\n" not in msg
    assert "WXFACE_APPID is required" in msg
    assert "WXFACE_APPSECRET is required" in msg


@pytest.mark.parametrize("bad", ["short", KEY + "A", KEY[:-1] + "!"])
def test_malformed_aes_key_is_rejected(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """An EncodingAESKey that is not 43 alphanumerics is refused, without echoing it."""
    monkeypatch.setenv("WXFACE_APPID", APPID)
    monkeypatch.setenv("WXFACE_TOKEN", "t")
    monkeypatch.setenv("WXFACE_ENCODING_AES_KEY", bad)
    with pytest.raises(ConfigError) as info:
        load_settings(ReceiverSettings)
    assert "WXFACE_ENCODING_AES_KEY must be exactly 43 characters" in str(info.value)
    assert bad not in str(info.value)


def test_business_api_requires_secret_and_data_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enabling the business API without an app secret is a configuration error."""
    monkeypatch.setenv("WXFACE_APPID", APPID)
    monkeypatch.setenv("WXFACE_TOKEN", "t")
    monkeypatch.setenv("WXFACE_API_KEYS", "k1,k2")
    with pytest.raises(ConfigError, match="WXFACE_APPSECRET is required"):
        load_settings(ReceiverSettings)
    monkeypatch.setenv("WXFACE_APPSECRET", "s")
    monkeypatch.setenv("WXFACE_DATA_KEY", "d" * 32)
    assert load_settings(ReceiverSettings).api_key_set() == {"k1", "k2"}


@pytest.mark.parametrize("bad", ["api.weixin.qq.com", "ftp://api.weixin.qq.com", "https://"])
def test_wechat_api_base_needs_scheme_and_host(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """A WeChat API base the client could not connect to is refused at start-up, in one line."""
    monkeypatch.setenv("WXFACE_APPID", APPID)
    monkeypatch.setenv("WXFACE_TOKEN", "t")
    monkeypatch.setenv("WXFACE_WECHAT_API_BASE", bad)
    with pytest.raises(ConfigError, match="WXFACE_WECHAT_API_BASE must be an http"):
        load_settings(ReceiverSettings)


def test_worker_batch_linger_defaults_and_refuses_negatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decision batches' linger is 5 ms unless set, 1 ms in a backlog; a negative one is
    refused."""
    for name, value in {"APPID": APPID, "APPSECRET": "s", "DATA_KEY": "d" * 16}.items():
        monkeypatch.setenv(f"WXFACE_{name}", value)
    assert load_settings(WorkerSettings).worker_batch_linger_ms == 5.0
    assert load_settings(WorkerSettings).worker_backlog_linger_ms == 1.0
    monkeypatch.setenv("WXFACE_WORKER_BATCH_LINGER_MS", "-1")
    with pytest.raises(ConfigError, match="WXFACE_WORKER_BATCH_LINGER_MS"):
        load_settings(WorkerSettings)
