#!/usr/bin/env bash
# Prints the deployment's Secrets (secrets.example.yaml's shape) with fresh random keys; the Twilio auth token and
# the Teams app password come from TWILIO_AUTH_TOKEN and TEAMS_APP_PASSWORD when set (else random: those channels
# then refuse every request until the real ones are put in). Usage:
#   bash deploy/k8s/new-secrets.sh > secrets.yaml && kubectl apply -f secrets.yaml && rm secrets.yaml
set -euo pipefail
umask 077
random() { python3 -c "import secrets; print(secrets.token_hex(24))"; }
template="$(dirname "$0")/secrets.example.yaml"
twilio="${TWILIO_AUTH_TOKEN:-$(random)}"
teams="${TEAMS_APP_PASSWORD:-$(random)}"
while IFS= read -r line; do
  case "$line" in
    *"twilio-auth-token: REPLACE-ME"*) line="${line/REPLACE-ME/\"$twilio\"}" ;;
    *"teams-app-password: REPLACE-ME"*) line="${line/REPLACE-ME/\"$teams\"}" ;;
    *"REPLACE-ME"*) line="${line/REPLACE-ME/\"$(random)\"}" ;;
  esac
  printf '%s\n' "$line"
done < "$template"
