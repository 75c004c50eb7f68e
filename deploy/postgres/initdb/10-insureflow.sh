#!/bin/bash
# Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
# The superuser ($POSTGRES_USER) is Temporal's: auto-setup creates the `temporal` and
# `temporal_visibility` databases itself. This adds InsureFlow's read-model role and database.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=app_user="${INSUREFLOW_DB_USER:-insureflow}" \
  --set=app_password="${INSUREFLOW_DB_PASSWORD:?INSUREFLOW_DB_PASSWORD is not set}" \
  --set=app_db="${INSUREFLOW_DB_NAME:-insureflow}" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
SQL
