"""`voice-analytics signals`: one JSON line out per line in, streaming, without importing livekit."""

from __future__ import annotations

import json
import subprocess
import sys


def test_signals_streams_one_line_out_per_line_in() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_analytics.cli", "signals"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("we're a team of 12 and send 300 contracts a month\n")
        process.stdin.flush()
        first = json.loads(process.stdout.readline())  # answered before the next line is sent
        process.stdin.write("yeah sounds good\n")
        process.stdin.flush()
        second = json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(timeout=10)
    assert first == {"team_size": 12, "monthly_volume": 300, "integrations": [], "urgency": None, "industry": None}
    assert list(second) == ["team_size", "monthly_volume", "integrations", "urgency", "industry"]
    assert process.returncode == 0


def test_signals_does_not_import_livekit() -> None:
    probe = (
        "import io, sys\n"
        "sys.stdin = io.StringIO('we are 5 people\\n')\n"
        "from voice_analytics.cli import app\n"
        "try:\n    app(['signals'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('livekit')), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["team_size"] == 5
    assert result.stderr.strip() == "[]"


def test_every_command_masks_personal_data_in_the_log_lines_of_its_process() -> None:
    """The CLI's callback installs log masking before any subcommand runs (spool, doctor, redrive and replay log S3
    keys, queue messages and Salesforce errors); nothing else in the command's process installs it."""
    probe = (
        "import io, logging, sys\n"
        "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
        "sys.stdin = io.StringIO('')\n"
        "from voice_analytics.cli import app\n"
        "try:\n    app(['signals'])\nexcept SystemExit:\n    pass\n"
        "logging.getLogger('voice_analytics').warning('retry for dana.lee@example.com at +1 415 555 0123')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert result.stderr.strip() == "retry for [email] at [phone]"
