"""The database settings: host, user and an IAM authentication token, never a stored password."""

from __future__ import annotations
{%- if cookiecutter._msgen.container and cookiecutter._msgen.container.database %}

import os
{%- endif %}

import storage


def test_database_settings_use_an_iam_token(monkeypatch):
    monkeypatch.setenv("DB_HOST", "{{ cookiecutter.service }}.cluster-abc.eu-west-1.rds.amazonaws.com")
    monkeypatch.setenv("DB_PORT", "5432")
    monkeypatch.setenv("DB_USER", "{{ cookiecutter._msgen.database.app_user if cookiecutter._msgen.database else 'app' }}")
    monkeypatch.setenv("DB_NAME", "{{ cookiecutter._msgen.database.name if cookiecutter._msgen.database else 'app' }}")
    settings = storage.database_settings()
    assert settings["sslmode"] == "require" and settings["port"] == 5432
    assert "X-Amz-Signature=" in settings["password"] and "Action=connect" in settings["password"]
{%- if cookiecutter._msgen.container and cookiecutter._msgen.container.database %}


def test_a_connection_uses_an_iam_token_and_requires_tls(database):
    with storage.database() as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    (settings,) = database.connections
    assert settings["sslmode"] == "require" and settings["connect_timeout"] == 5
    assert settings["user"] == os.environ["DB_USER"] and settings["dbname"] == os.environ["DB_NAME"]
    assert settings["host"].endswith(".rds.amazonaws.com") and settings["port"] == 5432
    token = settings["password"]
    assert "X-Amz-Signature=" in token and "Action=connect" in token, "an IAM authentication token, not a password"
    assert database.statements == ["SELECT 1"]
{%- endif %}
