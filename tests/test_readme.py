"""The README is executable documentation: its quick-start command, its Python examples, its error example and
its reference tables are run or checked against the program, so that they cannot drift from it.

Commands run from the repository root, as the README says, with ``sys.executable -m sim`` standing for the
installed ``stationsim`` script and output folders moved into a temporary folder.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.scenario.distributions import parse_distribution
from sim.scenario.units import parse_duration, parse_rate

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README) if lang == language]


def section(title: str) -> str:
    """The text of the README's ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.DOTALL | re.MULTILINE)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def stationsim(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def quick_start_run() -> list[str]:
    """The ``stationsim run ...`` part of the quick start's install-and-run command, as arguments."""
    for block in blocks("sh"):
        for command in block.replace("\\\n", " ").split("&&"):
            words = shlex.split(command)
            if words[:2] == ["stationsim", "run"]:
                return words[1:]
    pytest.fail("the README's sh blocks have no `stationsim run` command")


def option(args: list[str], name: str) -> str:
    assert name in args, f"the quick start's run command has no {name}"
    return args[args.index(name) + 1]


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, list[str]]:
    """The quick start's run, from the repository root, with its output folder under a temporary folder."""
    args = quick_start_run()
    out = tmp_path_factory.mktemp("readme") / option(args, "--out")
    args[args.index("--out") + 1] = str(out)
    return stationsim(args, ROOT), out, args


def test_quick_start_has_two_commands() -> None:
    commands = blocks("sh")
    assert len(commands) == 2
    install_and_run, install_and_test = commands
    assert "pip install ." in install_and_run
    assert "stationsim run scenarios/baseline.toml" in install_and_run
    assert "pip install '.[dev]'" in install_and_test
    assert install_and_test.strip().endswith("pytest")


def test_quick_start_run(quick_start: tuple[subprocess.CompletedProcess[str], Path, list[str]]) -> None:
    process, out, args = quick_start
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    for stage in ("validation", "calibration fetch", "compilation", "save metadata", "execution", "post-processing"):
        assert stage in process.stdout
    jobs = int(option(args, "--jobs"))
    db = out / "results.sqlite"
    assert db.is_file()
    assert (out / "summary.json").is_file()
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("SELECT COUNT(*) FROM jobs").fetchone() == (jobs,)
        assert connection.execute("SELECT seed, complete FROM runs").fetchall() == [(int(option(args, "--seed")), 1)]
    finally:
        connection.close()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == jobs


def test_command_line_synopsis_matches_the_program() -> None:
    (synopsis,) = [b for b in blocks("text") if b.startswith("stationsim ")]
    help_text = stationsim(["--help"], ROOT).stdout
    for line in synopsis.splitlines():
        command, *options = line.split("  ")[0].split()[1:]
        assert command in help_text, command
        command_help = stationsim([command, "--help"], ROOT).stdout
        for flag in re.findall(r"--[a-z-]+", " ".join(options)):
            assert flag in command_help, (command, flag)


def test_error_example_matches_validate(tmp_path: Path) -> None:
    """The README's example of bad input: build the file its message describes, and compare the messages."""
    (example,) = [b for b in blocks("text") if b.startswith("$ stationsim")]
    command, message = example.strip().splitlines()
    args = shlex.split(command.removeprefix("$ "))[1:]
    match = re.fullmatch(r"stationsim: error: (?P<file>[^:]+): (?P<key>[\w.]+): unknown distribution "
                         r"'(?P<dist>\w+)'; .*", message)
    assert match, f"unexpected README error example: {message}"
    *table, field, dist_key = match["key"].split(".")
    assert dist_key == "dist"
    (tmp_path / match["file"]).write_text(
        f'[arrivals]\nrate = "300/h"\n\n[{".".join(table)}]\n{field} = {{ {dist_key} = "{match["dist"]}", '
        'mean = "1s" }\n')
    assert args == ["validate", match["file"]]
    process = stationsim(args, tmp_path)
    assert process.returncode == 2
    assert process.stdout == ""
    assert process.stderr.splitlines() == [message]


def run_block(source: str, namespace: dict[str, Any]) -> object:
    """Execute a README Python block; returns the value of its last line if that is an expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "README.md", "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "README.md", "eval"), namespace)


def test_python_api_example(monkeypatch: pytest.MonkeyPatch) -> None:
    api = next(b for b in blocks("python") if "sim.simulate" in b)
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    run_block(api, namespace)
    result, scenario = namespace["result"], namespace["scenario"]
    assert isinstance(scenario, sim.Scenario)
    assert isinstance(result, sim.RunResult)
    jobs = len(result.jobs_frame())
    assert result.times.shape == (jobs, 18)
    assert list(result.times_frame().columns) == [s.value for s in sim.JobStatus]
    assert namespace["summary"]["stages"]["execution"]["wait"]["p95"] >= 0
    assert namespace["faster"].stages.compilation.workers == 8
    assert scenario.stages.compilation.workers != 8


def test_database_example(quick_start: tuple[subprocess.CompletedProcess[str], Path, list[str]],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    process, out, args = quick_start
    assert process.returncode == 0, process.stderr
    example = next(b for b in blocks("python") if "sqlite3.connect" in b)
    readme_out = option(quick_start_run(), "--out")
    assert readme_out in example  # the example reads what the quick start wrote
    monkeypatch.chdir(ROOT)
    frame = run_block(example.replace(readme_out, out.as_posix()), {})
    counts = dict(zip(frame["status"], frame["n"], strict=True))  # type: ignore[index]
    jobs = int(option(args, "--jobs"))
    assert counts == dict.fromkeys([s.value for s in sim.JobStatus][:16], jobs)


def test_database_tables_have_the_documented_columns(
        quick_start: tuple[subprocess.CompletedProcess[str], Path, list[str]]) -> None:
    _, out, _ = quick_start
    documented = {}
    for row in re.findall(r"^\| `(\w+)` \| (.*) \|$", section("Results database"), re.MULTILINE):
        documented[row[0]] = re.findall(r"`(\w+)`", row[1])
    assert set(documented) >= {"runs", "jobs", "transitions", "events"}  # the contract's tables, at least
    connection = sqlite3.connect(out / "results.sqlite")
    try:
        for table, columns in documented.items():
            actual = [info[1] for info in connection.execute(f"PRAGMA table_info({table})")]
            assert set(columns) <= set(actual), (table, set(columns) - set(actual))
    finally:
        connection.close()


def test_scenario_format_examples_parse() -> None:
    text = section("Scenario format")
    tables = re.findall(r"`(\{ dist = .*? \})`", text)
    assert len(tables) >= 5
    for inline in tables:
        spec = tomllib.loads(f"d = {inline}")["d"]
        parse_distribution(spec, parse_duration)
    units_line = next(line for line in text.splitlines() if line.startswith("Durations take units"))
    for quantity in re.findall(r'`"([^"]+)"`', units_line):
        assert parse_duration(quantity) > 0
    rates_line = next(line for line in text.splitlines() if line.startswith("Rates:"))
    for rate in re.findall(r'`"([^"]+/[^"]+)"`', rates_line):
        assert parse_rate(rate) > 0


def test_layout_names_existing_modules() -> None:
    text = section("Layout")
    modules = 0
    for line in text.split("\n- "):  # each item names a folder, then the modules in it
        folder = re.match(r"`([\w/.]+?)/?`", line.strip("- "))
        if folder is None:  # the paragraph before the list
            continue
        if folder.group(1).endswith(".py"):
            assert (ROOT / folder.group(1)).is_file(), folder.group(1)
            continue
        assert (ROOT / folder.group(1)).is_dir(), folder.group(1)
        for module in re.findall(r"`(\w+\.py)`", line):
            assert (ROOT / folder.group(1) / module).is_file(), f"{folder.group(1)}/{module}"
            modules += 1
    assert modules >= 30


def test_every_python_block_runs_in_order(quick_start: tuple[subprocess.CompletedProcess[str], Path, list[str]],
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """All the README's Python examples, one after another in one namespace, as a reader would paste them."""
    _, out, _ = quick_start
    readme_out = option(quick_start_run(), "--out")
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    for block in blocks("python"):
        run_block(block.replace(readme_out, out.as_posix()).replace('"out/figures"', repr(str(tmp_path))),
                  namespace)
    assert any(tmp_path.glob("*.png"))
