import subprocess
import sys

from tests.conftest import ROOT


def _repair_text(text: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "repair-text", *args],
        input=text.encode("utf-8"),
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout.decode("utf-8")


def test_repair_text_is_line_for_line():
    text = (
        "The councilâ€™s  budget\u00a0passed.\n"
        "\u200b\n"
        "The ferry is still in contrrol of the harbour board, officials said on Monday.\n"
    )
    out = _repair_text(text, "--lang", "en")
    assert out.split("\n") == [
        "The council’s budget passed.",
        "",
        "The ferry is still in control of the harbour board, officials said on Monday.",
        "",
    ]
    assert _repair_text("Prom jest pod kontrrolą zarządu portu, powiedzieli urzędnicy.") == (
        "Prom jest pod kontrrolą zarządu portu, powiedzieli urzędnicy."
    )
