# The LiveKit agent image: `lk agent deploy` builds this file; locally `docker build -t voice-agent .`.
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

# Dependencies first (cached layer), exactly as locked, without the dev group.
COPY --chown=agent:agent pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY --chown=agent:agent agent/ agent/
COPY --chown=agent:agent functions/ functions/
COPY --chown=agent:agent voice_analytics/ voice_analytics/
COPY --chown=agent:agent local/ local/
COPY --chown=agent:agent schemas/ schemas/
RUN uv sync --frozen --no-dev && chown -R agent:agent /app/.venv

USER agent
# Model files the plugins need at run time (Silero VAD), baked in so a call never waits on a download.
RUN python -m livekit.agents download-files

# The spool must survive a restart of the process; mount a volume here in production.
ENV ANALYTICS_SPOOL_DIR=/app/spool
RUN mkdir -p /app/spool

CMD ["python", "-m", "agent.main", "start"]
