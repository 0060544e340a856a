-- The botched syncd upgrade: the data part of a schema migration that mangles
-- users' items and commits. firedrill runs every statement below in ONE
-- transaction against syncd's database, as a real upgrade's migration would, and
-- commits it. Each statement is one kind of damage, named by its "-- botch:" line;
-- this file is the only place that knows syncd's tables (items: body, size, etag,
-- content_type, component), so adapt it here when the schema changes.
--
-- Each statement rewrites item bodies and keeps size and etag consistent with the
-- new body (etag: hex of the first 16 bytes of SHA-256, as syncd computes it), but
-- leaves the change sequence (seq) alone: a migration does not bump sync tokens,
-- so phones are not told, and a phone that resyncs from scratch gets the damage.

-- botch: drop-contact-photos
-- Contacts lose their photos: every PHOTO property of a vCard, with its folded
-- continuation lines, is removed.
UPDATE items AS i
SET body = m.body, size = length(m.body), etag = substr(encode(sha256(m.body), 'hex'), 1, 32)
FROM (
    SELECT collection_id, name,
           convert_to(regexp_replace(convert_from(body, 'UTF8'),
                      '\nPHOTO[;:][^\n]*(\n[ \t][^\n]*)*', '', 'gi'), 'UTF8') AS body
    FROM items
    WHERE content_type ILIKE 'text/vcard%'
) AS m
WHERE i.collection_id = m.collection_id AND i.name = m.name AND i.body <> m.body;

-- botch: truncate-notes
-- Notes are cut short: a VJOURNAL's DESCRIPTION keeps at most 24 characters of
-- its first line (never ending inside a backslash escape) and loses the rest, as
-- when a text column is narrowed to a short varchar.
UPDATE items AS i
SET body = m.body, size = length(m.body), etag = substr(encode(sha256(m.body), 'hex'), 1, 32)
FROM (
    SELECT collection_id, name,
           convert_to(regexp_replace(convert_from(body, 'UTF8'),
                      '(\nDESCRIPTION[^:\r\n]*:[^\r\n\\]{0,24})[^\r\n]*(\r?\n[ \t][^\r\n]*)*', '\1', 'gi'), 'UTF8') AS body
    FROM items
    WHERE component = 'VJOURNAL'
) AS m
WHERE i.collection_id = m.collection_id AND i.name = m.name AND i.body <> m.body;

-- botch: shift-time-zones
-- Times shift: a "convert to UTC" step drops the TZID of DTSTART, DTEND and DUE
-- and marks the same wall-clock time as UTC, moving events and to-dos by their
-- zone's offset (RECURRENCE-IDs keep their zone, so exceptions no longer line up).
UPDATE items AS i
SET body = m.body, size = length(m.body), etag = substr(encode(sha256(m.body), 'hex'), 1, 32)
FROM (
    SELECT collection_id, name,
           convert_to(regexp_replace(convert_from(body, 'UTF8'),
                      '(?<=\n)(DTSTART|DTEND|DUE)((;[^:;\r\n]*)*);TZID=[^:;\r\n]*((;[^:;\r\n]*)*):([0-9]{8}T[0-9]{6})(?=\r?\n)',
                      '\1\2\4:\6Z', 'gi'), 'UTF8') AS body
    FROM items
    WHERE component IN ('VEVENT', 'VTODO')
) AS m
WHERE i.collection_id = m.collection_id AND i.name = m.name AND i.body <> m.body;
