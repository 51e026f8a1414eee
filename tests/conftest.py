from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.resources import blueprints

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = {bp.name: bp.path for bp in blueprints()}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str, cwd: Path | None = None):
        old = Path.cwd()
        if cwd:
            os.chdir(cwd)
        try:
            return runner.invoke(main, list(args), catch_exceptions=True)
        finally:
            os.chdir(old)

    return invoke


def blueprint_text(name: str = "serverless-api") -> str:
    return BLUEPRINTS[name].read_text(encoding="utf-8")


def blueprint_data(name: str = "serverless-api") -> dict:
    return yaml.safe_load(blueprint_text(name))
