"""The entry the LiveKit CLI and `python -m livekit.agents` look for at the repository root (main.py).

The agent itself is the `agent` package (agent/main.py); a root `agent.py` would shadow that package, so this file
is named main.py and only re-exports the server. `python -m livekit.agents start` finds it without an argument.
"""

from agent.main import server

__all__ = ["server"]
