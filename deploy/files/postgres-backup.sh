#!/bin/bash
# The databases' backups (the CronJob postgres-backup, k8s/80-backup.yaml; compose.yaml's `backup`): one pg_dump
# archive (custom format: compressed, restored selectively and in parallel by pg_restore) per database and run, into
# $BACKUP_DIR/<database>/<database>-<UTC time>.dump, then only the newest $BACKUP_KEEP of each kept. An archive is
# written aside, checked readable (pg_restore --list) and renamed into place: a failed or interrupted run leaves no
# partial archive and removes no old one. The server and login come from libpq's variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD from a Secret: never on a command line). Restore: postgres-restore.sh (deploy/README.md "Backups").
set -euo pipefail
: "${BACKUP_DIR:?}" "${BACKUP_DATABASES:?names of the databases to dump}"
keep="${BACKUP_KEEP:-14}"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || { echo "postgres-backup: BACKUP_KEEP must be a whole number >= 1" >&2; exit 2; }
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for db in $BACKUP_DATABASES; do
  mkdir -p "$BACKUP_DIR/$db"
  archive="$BACKUP_DIR/$db/$db-$stamp.dump"
  partial="$BACKUP_DIR/$db/.$db-$stamp.dump.partial"
  trap 'rm -f "$partial"' EXIT
  pg_dump --format=custom --no-password --dbname="$db" --file="$partial"
  pg_restore --list "$partial" >/dev/null
  mv "$partial" "$archive"
  trap - EXIT
  echo "postgres-backup: $db -> $archive ($(du -h "$archive" | cut -f1))"
  # Retention: the newest $keep archives of this database (names sort by time).
  find "$BACKUP_DIR/$db" -maxdepth 1 -name "$db-*.dump" | sort | head -n "-$keep" | while read -r old; do
    rm -f -- "$old"
    echo "postgres-backup: removed $old (keeping the newest $keep)"
  done
done
