"""The wheel carries the blueprints and templates: install it into a fresh venv and use it from elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_synthesizes_a_packaged_blueprint(tmp_path):
    wheelhouse = Path(os.environ.get("MSGEN_WHEELHOUSE") or ROOT / ".venv" / "wheelhouse")
    assert wheelhouse.is_dir(), f"{wheelhouse} missing: `make test` builds it (dependency wheels, so no network is needed here)"
    dist = tmp_path / "dist"
    # What `make dist` does, without build isolation (no network here): an sdist and a wheel that twine accepts.
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = dist.glob("msgen_cli-*.whl")
    (sdist,) = dist.glob("msgen_cli-*.tar.gz")
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    names = zipfile.ZipFile(wheel).namelist()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "\nName: msgen-cli\n" in metadata, "the distribution is msgen-cli: `msgen` on the public index is another project"
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("/blueprints/serverless-api.yaml") for m in members)
    assert any("/templates/serverless-python/" in m for m in members)
    assert "generator/_data/blueprints/serverless-api.yaml" in names
    assert "generator/spec/service.schema.json" in names
    assert "generator/fleet/fleet.schema.json" in names
    assert {f"generator/_data/blueprints/fleets/shop/{f}.yaml" for f in ("fleet", "ui-svc", "catalog-svc", "checkout-svc", "payment-svc",
                                                                       "shipping-svc")} <= set(names)
    assert any(n.startswith("generator/lint_rules/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    msgen = str(venv / "bin" / "msgen")
    listing = subprocess.run([msgen, "blueprints"], cwd=elsewhere, capture_output=True, text=True, check=True, env=env)
    assert "serverless-api" in listing.stdout
    synth = subprocess.run([msgen, "synth", "serverless-api", "-o", "t.yaml"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert synth.returncode == 0, synth.stderr
    expected = subprocess.run([sys.executable, "-m", "generator", "synth", "serverless-api"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert (elsewhere / "t.yaml").read_text() == expected.stdout
    lint = subprocess.run([msgen, "lint", "t.yaml"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fleet = subprocess.run([msgen, "fleet", "validate", "shop"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert fleet.returncode == 0 and "OK (fleet shop, 5 services" in fleet.stderr, fleet.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import generator; print(generator.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, check=True, env=env)
    assert str(venv) in where.stdout, "the installed package, not the checkout, must have run"
