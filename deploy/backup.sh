#!/bin/sh
# A pg_dump of Rentdesk's database into BACKUP_DIR; dumps older than BACKUP_KEEP_DAYS are removed.
# DATABASE_URL comes from /etc/rentdesk/rentdesk.env (a postgres:// URL, which pg_dump reads too).
# Restoring needs the dump AND the same API_KEY_ENCRYPTION_KEYS: keep those elsewhere (docs/deploy.md).
set -eu
: "${DATABASE_URL:?DATABASE_URL is not set: see /etc/rentdesk/rentdesk.env}"
backup_dir=${BACKUP_DIR:-/var/backups/rentdesk}
keep_days=${BACKUP_KEEP_DAYS:-14}
mkdir -p "$backup_dir"
target="$backup_dir/rentdesk-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Written under another name first: a dump cut short never looks like a good one.
pg_dump --format=custom --no-owner --dbname="$DATABASE_URL" --file="$target.partial"
mv "$target.partial" "$target"
find "$backup_dir" -name 'rentdesk-*.dump' -mtime +"$keep_days" -delete
echo "backup written: $target"
