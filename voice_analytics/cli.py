"""The `voice-analytics` command line. Each subcommand imports only what it needs, inside its own body."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="voice-analytics",
    help="Analytics and lead routing for the LiveKit voice agent.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Analytics and lead routing for the LiveKit voice agent."""


@app.command()
def signals() -> None:
    """Read one utterance per line on stdin; write one JSON object of detected signals per line on stdout."""
    import json

    from agent.signals import detect

    for line in sys.stdin:
        found = detect(line.rstrip("\n"))
        sys.stdout.write(json.dumps(found.as_output()) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    app()
