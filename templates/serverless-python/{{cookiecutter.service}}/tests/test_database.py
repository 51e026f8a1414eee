"""The database settings: host, user and an IAM authentication token, never a stored password."""

from __future__ import annotations

import storage


def test_database_settings_use_an_iam_token(monkeypatch):
    monkeypatch.setenv("DB_HOST", "{{ cookiecutter.service }}.cluster-abc.eu-west-1.rds.amazonaws.com")
    monkeypatch.setenv("DB_PORT", "5432")
    monkeypatch.setenv("DB_USER", "{{ cookiecutter._msgen.database.app_user if cookiecutter._msgen.database else 'app' }}")
    monkeypatch.setenv("DB_NAME", "{{ cookiecutter._msgen.database.name if cookiecutter._msgen.database else 'app' }}")
    settings = storage.database_settings()
    assert settings["sslmode"] == "require" and settings["port"] == 5432
    assert "X-Amz-Signature=" in settings["password"] and "Action=connect" in settings["password"]
