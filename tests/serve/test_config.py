"""Server configuration: YAML file, environment overrides, validation."""

from __future__ import annotations

import pytest

from serve.config import load_config
from synthos.errors import SynthosError


def test_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "serve.yaml"
    path.write_text(
        "listen: 0.0.0.0:6000\n"
        "data_roots: [data, /abs/root]\n"
        "storage_dir: store\n"
        "max_concurrent_cascades: 2\n"
        "cascade_overrides: [trainer=cpu]\n"
    )
    env = {
        "SYNTHOS_SERVE_MAX_CONCURRENT_CASCADES": "3",
        "SYNTHOS_SERVE_S3_BUCKETS": "a, b",
        "SYNTHOS_SERVE_RESUME_INTERRUPTED": "false",
    }
    config = load_config(path, env=env, listen="127.0.0.1:0")
    assert config.listen == "127.0.0.1:0"
    assert config.data_roots == (str(tmp_path / "data"), "/abs/root")
    assert config.storage_dir == str(tmp_path / "store")
    assert config.max_concurrent_cascades == 3
    assert config.s3_buckets == ("a", "b")
    assert config.resume_interrupted is False
    assert config.cascade_overrides == ("trainer=cpu",)
    assert config.max_message_bytes == 100 * 1024 * 1024
    assert not config.tls_enabled


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("listen: [\n", {}, "not valid YAML"),
        ("bogus: 1\n", {}, "unknown settings"),
        ("", {"SYNTHOS_SERVE_MAX_CONCURRENT_REQUESTS": "many"}, "must be int"),
        ("", {"SYNTHOS_SERVE_MAX_CONCURRENT_CASCADES": "0"}, "at least 1"),
        ("tls_cert: server.pem\n", {}, "TLS needs all of"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path, text, env, message):
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    with pytest.raises(SynthosError, match=message):
        load_config(path, env=env)
