"""Python dependencies are locked: every package pyproject.toml asks for
(dev tools included) has one exact version with hashes in requirements.lock,
and `make setup` installs from the lock, hashes required."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def _locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)",
                         text, flags=re.MULTILINE)
    return {_name(name): version for name, version, _ in entries}


def test_every_dependency_is_locked_to_one_version_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["dev"]}
    locked = _locked()
    assert wanted <= set(locked), sorted(wanted - set(locked))
    # Nothing in the lock without its hashes (the pattern above needs them).
    names = re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.lock").read_text(),
                       flags=re.MULTILINE)
    assert len(names) == len(locked)


def test_setup_installs_from_the_lock_and_make_lock_updates_it():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-compile --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert "-e '.[dev]'" not in makefile
    assert re.search(r"^lock:", makefile, flags=re.MULTILINE)
    assert "--generate-hashes" in makefile
