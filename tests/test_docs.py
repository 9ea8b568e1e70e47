"""The repository's own wiring: documented settings, commands and processes."""

from __future__ import annotations

import configparser
import re

from core.settings import DOCUMENTED, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table():
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert set(DOCUMENTED) <= rows, sorted(set(DOCUMENTED) - rows)


def test_every_setting_read_from_the_environment_is_documented():
    source = (ROOT / "core" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'env_map\.get\("([A-Z_]+)"', source))
    assert read <= set(DOCUMENTED), sorted(read - set(DOCUMENTED))


def test_quick_start_has_exactly_two_commands():
    start = README.index("## Quick start")
    section = README[start:README.index("\n## ", start + 1)]
    commands = re.findall(r"^(make \w+)$", section, flags=re.MULTILINE)
    assert commands == ["make run", "make test"]


def test_procfile_processes():
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    processes = dict(line.split(":", 1) for line in procfile.strip().splitlines())
    assert set(processes) == {"web", "worker", "release"}
    assert "tanntid migrate" in processes["release"]


def test_every_cli_command_is_in_the_readme():
    for command in ("tanntid serve", "tanntid migrate", "tanntid seed --demo",
                    "tanntid slots generate", "tanntid worker", "tanntid audit verify",
                    "tanntid audit seal"):
        assert command in README, command


def test_the_log_check_finds_identity_and_phone_numbers():
    from tests.logcheck import personal_data_in

    assert personal_data_in('{"event": "x", "pid": "21879498012"}') == ["21879498012"]
    assert personal_data_in("to=+47 912 34 567 status=sent") == ["+47 912 34 567"]
    assert personal_data_in("to=+4791234567") == ["+4791234567"]
    assert personal_data_in("appointment_id=12345678901 slot=4") == []  # not a valid number
    assert personal_data_in("correlation_id=cbb9e2cb3ea14efba12a6651c3e8d3b2") == []
    # Eleven digits inside a hex id that happen to pass the check digits.
    assert personal_data_in("correlation_id=1237e5baff8c4af9ae56032209209c76") == []
    assert personal_data_in("nin=56032209209, path=/x/56032209209?") == ["56032209209"] * 2
    # "0047" and eight digits inside a hex id are no phone number.
    assert personal_data_in("correlation_id=e6d46d004796421392e4b438741d3265") == []
    assert personal_data_in("to=004791234567 status=sent") == ["004791234567"]


def test_the_readme_map_of_imports_is_the_checked_one():
    """The README's one line of import direction is the layers contract."""
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter", encoding="utf-8")
    layers = contracts["importlinter:contract:layers"]["layers"].strip().splitlines()
    line = "  →  ".join(layer.strip() for layer in layers)
    assert line in README, line
    packages = contracts["importlinter"]["root_packages"].split()
    for package in packages:
        assert f"\n{package}/" in README, f"{package}/ is missing from the README map"
