"""``web.schema`` is every table: imported on its own (as the test databases,
the browser tests' demo database and the benchmarks import it), it registers
each table the migrations create."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from core.settings import ROOT


def test_web_schema_alone_registers_every_migrated_table(tmp_path: Path) -> None:
    alone = subprocess.run(
        [sys.executable, "-c", "import json, web.schema; "
         "print(json.dumps(sorted(web.schema.metadata.tables)))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    path = tmp_path / "migrated.sqlite3"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with create_engine(f"sqlite:///{path}").begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with sqlite3.connect(path) as conn:
        migrated = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(json.loads(alone.stdout)) == migrated - {"alembic_version", "sqlite_sequence"}
