# Taskly production image: slim Python, a virtualenv built in a separate stage, non-root user.
# Build: docker build -t taskly .   Run: see README ("Deploying to fly.io").

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY taskly ./taskly
COPY templates ./templates
COPY static ./static
COPY sql ./sql
# A wheel install: templates/, static/ and sql/ travel inside the package (pyproject force-include).
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.12-slim
RUN groupadd --system --gid 10001 taskly \
 && useradd --system --uid 10001 --gid taskly --home-dir /app --shell /usr/sbin/nologin taskly \
 && mkdir /app && chown taskly:taskly /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TASKLY_ENV=production \
    PORT=8080
USER taskly
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
# Settings come from the environment; production refuses to start without SECRET_KEY,
# DATABASE_URL and an https BASE_URL.
CMD ["taskly", "serve", "--host", "0.0.0.0", "--port", "8080"]
