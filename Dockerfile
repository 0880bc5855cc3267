# One image for every paystream service; docker-compose.yml picks the service by `command`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:${PATH}"

RUN pip install --no-cache-dir uv

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the source and the project itself.
COPY . .
RUN uv sync --frozen --no-dev \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin paystream

USER paystream

EXPOSE 8000
CMD ["python", "-m", "gateway"]
