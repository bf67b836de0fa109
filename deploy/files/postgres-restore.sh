#!/bin/bash
# Restores one database from an archive of postgres-backup.sh: postgres-restore.sh DATABASE ARCHIVE
# Into the existing database (after postgres-init.sh, on a new server, it exists and is empty): what the archive
# holds is dropped and created again (--clean --if-exists), in one transaction (--single-transaction: an error leaves
# the database as it was), with the archive's owners (the roles portal and rasa, made by postgres-init.sh). Stop the
# database's writers first (deploy/README.md "Backups"). Login from libpq's variables, as postgres-backup.sh.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: postgres-restore.sh DATABASE ARCHIVE" >&2; exit 2; }
db="$1" archive="$2"
pg_restore --list "$archive" >/dev/null
pg_restore --clean --if-exists --single-transaction --exit-on-error --no-password --dbname="$db" "$archive"
echo "postgres-restore: $db restored from $archive"
