#!/usr/bin/env bash
# Makes compose.yaml's secrets once (kept if present): deploy/.env (passwords and the Rasa API token, read by
# compose to fill the services' environment; mode 0600) and deploy/secrets/ (the key files the services read through
# *_FILE). Compose bind-mounts each secret file as it is on the host, so the files are readable (0644) by the
# containers' unprivileged user while their directory (0700) keeps them from the host's other users.
# TWILIO_AUTH_TOKEN and TEAMS_APP_PASSWORD, when set, become those channels' secrets.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
random() { python3 -c "import secrets; print(secrets.token_hex(24))"; }
if [ ! -s .env ]; then
  for name in POSTGRES_PASSWORD PORTAL_DB_PASSWORD RASA_DB_PASSWORD REDIS_PASSWORD RASA_API_TOKEN; do
    echo "$name=$(random)"
  done > .env
fi
mkdir -p -m 700 secrets
for name in secret.key assistant.key channel.key nlu.key twilio-auth-token teams-app-password; do
  [ -s "secrets/$name" ] || random > "secrets/$name"
done
[ -z "${TWILIO_AUTH_TOKEN:-}" ] || printf '%s\n' "$TWILIO_AUTH_TOKEN" > secrets/twilio-auth-token
[ -z "${TEAMS_APP_PASSWORD:-}" ] || printf '%s\n' "$TEAMS_APP_PASSWORD" > secrets/teams-app-password
chmod 700 secrets && chmod 644 secrets/*
echo "compose secrets in $(pwd)/.env and $(pwd)/secrets/"
