#!/bin/bash
# First start of the deployment's PostgreSQL (docker-entrypoint-initdb.d): one database and one role per owner of
# state, the portal (backend) and Rasa's conversations. Passwords come from the mounted secret files (Kubernetes) or
# the environment (compose.yaml), and reach psql through its standard input, never on a command line.
set -euo pipefail
portal_password="${PORTAL_DB_PASSWORD:-$(cat "$PORTAL_DB_PASSWORD_FILE")}"
rasa_password="${RASA_DB_PASSWORD:-$(cat "$RASA_DB_PASSWORD_FILE")}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE portal LOGIN PASSWORD '${portal_password}';
CREATE DATABASE portal OWNER portal;
CREATE ROLE rasa LOGIN PASSWORD '${rasa_password}';
CREATE DATABASE rasa OWNER rasa;
REVOKE ALL ON DATABASE portal FROM PUBLIC;
REVOKE ALL ON DATABASE rasa FROM PUBLIC;
SQL
