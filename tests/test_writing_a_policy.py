"""The page docs/writing-a-policy.md runs as written: its files are written into a fresh folder, its commands
run there (the policy package on ``PYTHONPATH``, as the page says), and its EDF policy is the very module the
policy tests use (``tests/policies_outside/edf.py``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "docs" / "writing-a-policy.md"
BLOCK = re.compile(r"<!-- (file: (?P<name>\S+)|commands) -->\n```[a-z]*\n(?P<body>.*?)```\n", re.DOTALL)


def blocks() -> tuple[dict[str, str], list[str]]:
    """The page's files by name, and its commands in order."""
    files: dict[str, str] = {}
    commands: list[str] = []
    for match in BLOCK.finditer(PAGE.read_text(encoding="utf-8")):
        if match["name"]:
            files[match["name"]] = match["body"]
        else:
            commands += [line for line in match["body"].splitlines() if line.strip()]
    return files, commands


def test_the_pages_edf_is_the_tested_module() -> None:
    files, _ = blocks()
    assert files["mypolicies/edf.py"] == (ROOT / "tests" / "policies_outside" / "edf.py").read_text(encoding="utf-8")


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    files, commands = blocks()
    assert {"mypolicies/edf.py", "edf.toml", "test_edf.py"} <= set(files)
    assert len(commands) >= 4
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    bin_folder = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command in commands:
        words = shlex.split(command)
        leading = next(i for i, word in enumerate(words) if not re.fullmatch(r"[A-Z_]+=.*", word))
        assignments = dict(word.split("=", 1) for word in words[:leading])  # VAR=value before the command
        argv = words[leading:]
        done = subprocess.run(argv, cwd=tmp_path, env={**env, **assignments}, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if argv[:2] == ["stationsim", "compare"]:
            line = next(row for row in done.stdout.splitlines() if row.startswith("deadline misses (share)"))
            assert line.split()[-1] == "better", done.stdout


@pytest.mark.parametrize("value", ['"30 parsecs"'])
def test_the_pages_bad_option_message_is_what_validate_prints(tmp_path: Path, value: str) -> None:
    files, _ = blocks()
    (tmp_path / "mypolicies").mkdir()
    for name in ("mypolicies/edf.py", "mypolicies/__init__.py"):
        (tmp_path / name).write_text(files[name], encoding="utf-8")
    (tmp_path / "edf.toml").write_text(files["edf.toml"].replace('batch = "1h"', f"batch = {value}"),
                                       encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "sim", "validate", "edf.toml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": "."})
    assert done.returncode == 2
    shown = re.search(r"stationsim: error: edf\.toml: scheduler\.options\.slack\.batch: .*", PAGE.read_text())
    assert shown is not None
    assert done.stderr.strip() == shown[0]
