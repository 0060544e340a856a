#!/bin/bash
# A harmless procedure for `firedrill rehearse` tests: it checks that every
# documented environment variable is handed to it, writes a marker row through
# the database URL, creates a scratch volume carrying the run's labels (which
# the run's cleanup must remove), checks the service through its URL, and
# tells the harness what it did in the result file.
set -euo pipefail
for v in FIREDRILL_RUN FIREDRILL_LABELS FIREDRILL_DOCKER_LABELS FIREDRILL_NETWORK \
	FIREDRILL_POSTGRES_CONTAINER FIREDRILL_POSTGRES_ALIAS FIREDRILL_DATA_VOLUME FIREDRILL_DATA_DOMAIN \
	FIREDRILL_PGDATA FIREDRILL_SYNCD_CONTAINER FIREDRILL_SERVICE_URL FIREDRILL_DATABASE_URL \
	FIREDRILL_DATABASE_URL_INTERNAL FIREDRILL_OUTPUT_DIR FIREDRILL_RESULT FIREDRILL_SEED \
	PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE; do
	if [ -z "${!v:-}" ]; then echo "missing $v" >&2; exit 3; fi
done
echo "running in $PWD against $FIREDRILL_POSTGRES_CONTAINER on $FIREDRILL_NETWORK"
psql "$FIREDRILL_DATABASE_URL" -v ON_ERROR_STOP=1 -Atc \
	"CREATE TABLE IF NOT EXISTS rehearsal_marker (at timestamptz NOT NULL); INSERT INTO rehearsal_marker VALUES (now());"
rows=$(psql -v ON_ERROR_STOP=1 -Atc "SELECT count(*) FROM rehearsal_marker")
# shellcheck disable=SC2086 # the labels are one --label k=v pair per word
docker volume create $FIREDRILL_DOCKER_LABELS "$FIREDRILL_RUN-procedure-scratch" >/dev/null
docker inspect --format '{{.Name}} on {{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}' "$FIREDRILL_POSTGRES_CONTAINER" >/dev/null
curl -fsS -o /dev/null "$FIREDRILL_SERVICE_URL/healthz"
{
	echo "# what this procedure did"
	echo "marker_rows=$rows"
	echo "scratch_volume=$FIREDRILL_RUN-procedure-scratch"
} >"$FIREDRILL_RESULT"
echo "done: $rows marker row(s)"
