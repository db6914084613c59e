"""``load_model()`` finds the bundled priors from the editable install and from a built wheel.

Runs in ``make test`` (no marker deselects it); building and installing the wheel takes a few
seconds. The project is copied to a temporary directory first, so the build leaves nothing
(``build/``, egg-info) in the working tree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import model
import priors
from model import load_model
from model.priors import PRIOR_FILES, SOURCES_FILE, bundled_priors_dir
from tests.conftest import ROOT

SKIP = shutil.ignore_patterns(
    ".venv",
    ".git",
    "tests",
    "notebooks",
    "docs",
    "examples",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "out",
    ".ipynb_checkpoints",
)


def test_editable_install_finds_the_bundled_priors(priors_dir):
    assert Path(model.__file__).resolve().parent == ROOT / "model"
    assert bundled_priors_dir().resolve() == priors_dir.resolve() == Path(priors.__file__).resolve().parent
    assert load_model().priors.directory.resolve() == priors_dir.resolve()


def test_wheel_install_finds_the_bundled_priors(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(src)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    (wheel,) = wheels.glob("hipdx-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert sorted(p.name for p in (site / "priors").glob("*.yaml")) == sorted((*PRIOR_FILES, SOURCES_FILE))
    web = site / "service" / "web"  # the case page works from an installed wheel
    assert {p.relative_to(web).as_posix() for p in web.rglob("*.*") if p.suffix in (".js", ".css", ".html")} == {
        "static/case.js", "static/case.css", "templates/case.html"}
    code = (
        "import json, model, priors\n"
        "from model import load_model\n"
        "m = load_model()\n"
        "print(json.dumps({'model': model.__file__, 'priors': priors.__file__, 'dir': str(m.priors.directory),\n"
        "                  'version': m.version, 'gtps': m.posterior({'pain_lying_on_side': 'present'})['gtps']}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("model", "priors", "dir"):
        assert Path(out[key]).resolve().is_relative_to(site.resolve()), (key, out[key])
    editable = load_model()
    assert out["version"] == editable.version
    assert abs(out["gtps"] - editable.posterior({"pain_lying_on_side": "present"})["gtps"]) < 1e-12
