"""The `tanntid` command, run as a newcomer would: migrate, seed, generate."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import ROOT
from tests.logcheck import keep_output

#: The real command in a process of its own, on the machine's clock.
pytestmark = [pytest.mark.slow, pytest.mark.real_clock]


def tanntid(*args: str, db_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
           "SECRET_KEY": "cli-test-" + "k" * 32, "TANNTID_ENV": "test", "LOG_JSON": "1"}
    result = subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    keep_output("cli", result.stdout + result.stderr)
    return result


def count(db_path: Path, table: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_migrate_seed_and_generate_are_repeatable(tmp_path: Path):
    db_path = tmp_path / "cli.sqlite3"
    assert tanntid("migrate", db_path=db_path).returncode == 0
    assert tanntid("migrate", db_path=db_path).returncode == 0
    seeded = tanntid("seed", "--demo", "--weeks", "1", db_path=db_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "demo data ready" in seeded.stdout
    counts = {t: count(db_path, t) for t in ("counties", "clinics", "patients", "slots",
                                             "appointments")}
    assert counts["counties"] == 15 and counts["clinics"] >= 45 and counts["slots"] > 0
    again = tanntid("seed", "--demo", "--weeks", "1", db_path=db_path)
    assert again.returncode == 0
    assert {t: count(db_path, t) for t in counts} == counts
    generated = tanntid("slots", "generate", "--weeks", "2", db_path=db_path)
    assert generated.returncode == 0, generated.stderr
    assert count(db_path, "slots") > counts["slots"]
    assert "new slots" in generated.stdout


def test_production_without_secret_refuses_to_start(tmp_path: Path):
    env = {**os.environ, "TANNTID_ENV": "production", "SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "-m", "web.cli", "migrate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr


def test_serving_on_another_port_keeps_links_and_login_on_that_port():
    from web.cli import local_public_url

    assert local_public_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert local_public_url("0.0.0.0", 9000) == "http://127.0.0.1:9000"  # noqa: S104


def test_audit_seal_and_verify(tmp_path: Path):
    """The seeded demo's audit log seals and verifies; an entry removed
    behind the triggers' back makes verify exit 1."""
    db_path = tmp_path / "audit.sqlite3"
    assert tanntid("migrate", db_path=db_path).returncode == 0
    assert tanntid("seed", "--demo", "--weeks", "1", db_path=db_path).returncode == 0
    sealed = tanntid("audit", "seal", db_path=db_path)
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed" in sealed.stdout
    verified = tanntid("audit", "verify", db_path=db_path)
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact" in verified.stdout
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)")
    broken = tanntid("audit", "verify", db_path=db_path)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout
    # Both results kept for the county administrators' audit viewer.
    with sqlite3.connect(db_path) as conn:
        kept = conn.execute(
            "SELECT intact, actor_id FROM audit_verifications ORDER BY id").fetchall()
    assert kept == [(1, "system:cli"), (0, "system:cli")]
