# The LiveKit agent image: `lk agent deploy` builds this file; locally `docker build -t voice-agent .`.
# The agent's runtime only: the project's locked runtime dependencies (no dev group: no local stack, no tests).
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:${PATH}"

# uv from its official image, pinned by major.minor so builds are repeatable.
COPY --from=ghcr.io/astral-sh/uv:0.8 /uv /uvx /bin/

RUN adduser --disabled-password --gecos "" --home /app --uid 10001 agent
WORKDIR /app

# Dependencies exactly as locked (--locked fails the build if uv.lock is stale), without the dev group. The agent
# runs from its sources in /app (`python -m livekit.agents` imports main.py from the working directory), so the
# project itself is not installed.
COPY --chown=agent:agent pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project && chown -R agent:agent /app/.venv

COPY --chown=agent:agent main.py ./
COPY --chown=agent:agent agent/ agent/
COPY --chown=agent:agent functions/ functions/
COPY --chown=agent:agent voice_analytics/ voice_analytics/

USER agent
# Model files the plugins need at run time, baked in so a call never waits on a download (Silero's and the local
# turn detector's ship in their wheels; this is for any other plugin that declares files).
RUN python -m livekit.agents download-files

# The spool must survive a restart of the process; mount a volume here in production.
ENV ANALYTICS_SPOOL_DIR=/app/spool
RUN mkdir -p /app/spool

# LiveKit's health check (GET / answers 200 "OK" once the worker runs; /worker gives its status).
EXPOSE 8081

CMD ["python", "-m", "livekit.agents", "start", "main.py"]
