"""The front door: `wiredesk` as a user types it. Bad values answer in one line with exit 2
before anything heavy is imported; a busy data dir is exit 3 the same way; `--help` and
`--version` speak to users; `run` works with relative paths (the README's defaults)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_INBOX

# Runs the CLI in a fresh interpreter and reports its exit status and which heavy packages it
# imported: a check that answers before Prefect, pyarrow and GX load answers in about a second
# (benchmarks/cli.py prints the seconds).
PROBE = """
import json, sys
from flows.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
heavy = sorted(m for m in ("prefect", "pyarrow", "great_expectations") if m in sys.modules)
print(json.dumps({"rc": rc, "heavy": heavy}))
"""


def wiredesk(*argv: str, cwd: Path = ROOT) -> tuple[dict, str, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)},
    )
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1]), done.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "--run-date", "2026-13-45"], "--run-date '2026-13-45'"),
        (["run", "--run-date", "20260314"], "--run-date '20260314'"),
        (["run", "--data-dir", "README.md"], "--data-dir README.md is a file"),
        (["run", "--inbox", "no/such/inbox"], "--inbox no/such/inbox does not exist"),
        (["run", "--inbox", "README.md"], "--inbox README.md is a file"),
        (["run", "--workers", "0"], "--workers 0"),
        (["run", "--lock-wait", "-1"], "--lock-wait -1"),
        (["run", "--sources", "file:///etc/passwd"], "'file:///etc/passwd' is not an http(s)"),
        (["run", "--sources-file", "no-such-file"], "--sources-file no-such-file"),
        (["run", "--expectations-dir", "tests"], "--expectations-dir"),
        (["run", "--workers", "two"], "invalid int value: 'two'"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["report", "--night", "yesterday"], "--night 'yesterday'"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2_before_anything_heavy(argv, named, tmp_path):
    (tmp_path / "README.md").write_text("not a folder")
    (tmp_path / "tests").mkdir()
    shutil.copytree(SAMPLE_INBOX, tmp_path / "data" / "inbox")
    result, _, err = wiredesk(*argv, cwd=tmp_path)
    assert result["rc"] == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert named in err and "Traceback" not in err
    assert "prefect" not in result["heavy"] and "great_expectations" not in result["heavy"]
    assert not (tmp_path / "data" / "runs").exists()  # nothing ran


def test_a_busy_data_dir_is_exit_3_at_once_naming_the_holder(tmp_path):
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from tasks.lock import DataDirLock\n"
            f"with DataDirLock(Path({str(data)!r}), holder='pid 42, night 2026-03-14'):\n"
            "    print('held', flush=True); time.sleep(120)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        shutil.copytree(SAMPLE_INBOX, tmp_path / "inbox")
        result, _, err = wiredesk("run", "--inbox", "inbox", "--data-dir", "data", cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert result["rc"] == 3
    assert err.strip().splitlines() == [err.strip()]
    assert "is in use by another wiredesk run (pid 42, night 2026-03-14)" in err
    assert "prefect" not in result["heavy"]


def test_help_and_version_speak_to_users_without_prefect():
    result, out, _ = wiredesk("--help")
    assert result["rc"] == 0 and result["heavy"] == []
    assert out.startswith("usage: wiredesk") and "wiredesk run" in out
    assert "exit status: 0 the night was published" in out
    assert "console script" not in out and "stage logic" not in out  # no developer docstring
    result, out, _ = wiredesk("run", "--help")
    assert result["rc"] == 0 and "prefect" not in result["heavy"]
    assert "--quiet" in out and "--log-level" in out and "exit status" in out
    result, out, _ = wiredesk("--version")
    assert result["rc"] == 0 and out.startswith("wiredesk ") and out.split()[1][0].isdigit()


def test_quiet_and_log_level_set_prefect_logging_before_it_loads(tmp_path):
    probe = (
        "import os, sys\nfrom flows import cli\n"
        "args = cli.build_parser().parse_args(sys.argv[1:])\n"
        "cli._configure_logging(args)\nprint(os.environ.get('PREFECT_LOGGING_LEVEL'))\n"
    )
    for argv, level in ((["run", "-q"], "WARNING"), (["run", "--log-level", "debug"], "DEBUG")):
        done = subprocess.run(
            [sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True
        )
        assert done.stdout.strip() == level


@pytest.mark.flow
def test_run_with_relative_paths_publishes_the_night(tmp_path, monkeypatch, prefect_api, capsys):
    """The README's first command takes `--data-dir data` and `--inbox data/inbox`, relative:
    the night must publish (GX refused relative paths once)."""
    from datetime import UTC, datetime

    from flows.cli import main

    shutil.copytree(SAMPLE_INBOX, tmp_path / "data" / "inbox")
    monkeypatch.chdir(tmp_path)
    # main() sets Prefect's log level for `-q` in the environment, which later tests'
    # subprocesses would inherit: monkeypatch restores it.
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")
    begun = datetime.now(UTC)
    assert main(["run", "--run-date", "2026-03-14", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "published night 2026-03-14: 5 articles, 5 duplicates, 2 quarantined" in out
    assert "all accounted for" in out
    (record_path,) = (tmp_path / "data" / "runs").glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["status"] == "completed" and record["data_dir"] == str(tmp_path / "data")
    assert list((tmp_path / "data" / "curated" / "articles").glob("run_date=2026-03-14/*"))
    # Each per-document stage moved a Prefect progress artifact to 100%.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = ["extract-progress", "repair-progress"]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    found = [a for a in found if a.created is not None and a.created >= begun]
    assert {a.key for a in found} == set(keys)
    assert all(a.type == "progress" and float(a.data) == 100.0 for a in found)
    # The lock the CLI took is released with the run: a second run is not refused.
    started = time.monotonic()
    assert main(["run", "--run-date", "2026-03-14", "--workers", "1", "-q"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert time.monotonic() - started < 120
