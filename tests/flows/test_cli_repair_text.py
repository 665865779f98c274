import io
import os
import subprocess
import sys

from flows.cli import TELEMETRY_DEFAULTS, main
from tests.conftest import ROOT


def _repair_text(text: str, *args: str, monkeypatch, capsysbinary) -> str:
    """`wiredesk repair-text` in this process: its spellers are the ones the other tests built.
    The Prefect defaults `main` puts in the environment are taken out again afterwards."""
    for key in [*TELEMETRY_DEFAULTS, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]:
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    assert main(["repair-text", *args]) == 0
    return capsysbinary.readouterr().out.decode("utf-8")


def test_repair_text_is_line_for_line(monkeypatch, capsysbinary):
    text = (
        "The councilâ€™s  budget\u00a0passed.\n"
        "\u200b\n"
        "The ferry is still in contrrol of the harbour board, officials said on Monday.\n"
    )
    out = _repair_text(text, "--lang", "en", monkeypatch=monkeypatch, capsysbinary=capsysbinary)
    assert out.split("\n") == [
        "The council’s budget passed.",
        "",
        "The ferry is still in control of the harbour board, officials said on Monday.",
        "",
    ]


def test_repair_text_reads_stdin_and_writes_stdout_as_utf8_bytes():
    # A fresh interpreter, as a user runs it; Polish has no dictionary, so nothing is built.
    polish = "Prom jest pod kontrrolą zarządu portu, powiedzieli urzędnicy."
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "repair-text"],
        input=polish.encode("utf-8"),
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.decode("utf-8") == polish
