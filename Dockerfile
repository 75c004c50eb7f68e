# syntax=docker/dockerfile:1
# InsureFlow image: `insureflow api` by default; docker-compose.yml also runs
# `insureflow worker` and `insureflow db upgrade` from it.

# Build stage: install the project (not editable) and its dependencies into a venv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
# The message catalogues are checked in as .po: compile them into the package's data first.
RUN pip install "babel>=2.16" \
 && pybabel compile --statistics -D messages -d core/locale
RUN pip install .

# Runtime stage: the venv only, no sources, no build tools, an unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INSUREFLOW_ENVIRONMENT=production \
    INSUREFLOW_DATA_DIR=/app/.data \
    INSUREFLOW_API_HOST=0.0.0.0 \
    INSUREFLOW_API_PORT=8000
RUN groupadd --system --gid 10001 insureflow \
 && useradd --system --uid 10001 --gid insureflow --home-dir /app --create-home \
      --shell /usr/sbin/nologin insureflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER insureflow:insureflow
EXPOSE 8000
CMD ["insureflow", "api"]
