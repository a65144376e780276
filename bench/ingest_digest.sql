-- The end state of the ingestion benchmark's database, as digests that do not depend on ids,
-- so two checkouts' runs can be compared (docs/benchmarks.md, "Issue 9: ingestion"):
--   psql ... -d groupfinder_bench_ingest -qtA -f bench/ingest_digest.sql
-- Each stored hash is compared on its content half: the other half fingerprints the record
-- salted with the normalising code (finder.listings.normalise.stored_hash), so it differs
-- between checkouts whose normalising code differs.
SELECT 'listings', count(*), md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT concat_ws(';', s.source, s.external_id, left(s.content_hash, 32), s.withdrawn_at IS NULL, s.url, g.name, g.description, g.format, g.status,
    g.join_mode, g.join_url, g.join_phone, g.join_email, g.join_notes, g.loss_types::text, g.audiences::text, g.languages::text,
    g.cost, g.facilitation, g.accessibility_notes, o.name, o.website, o.email, o.phone, l.address_key, l.venue_name, l.town, l.postcode,
    ST_AsText(l.point::geometry), l.geocode_precision, l.timezone, g.timezone, g.service_countries::text, g.join_keys::text, g.last_confirmed,
    g.meeting_slots::text, g.meets_until, g.owner_organisation_id IS NULL, ST_AsText(g.point::geometry),
    (SELECT string_agg(concat_ws(',', sc.freq, sc.interval, sc.weekday, sc.set_pos, sc.start_time, sc.duration_minutes, sc.timezone,
       sc.valid_from, sc.valid_until, sc.time_band, sc.cancelled_dates::text, cardinality(sc.upcoming), sc.last_meeting_on), '/' ORDER BY sc.weekday, sc.start_time)
     FROM schedules sc WHERE sc.group_id = g.id),
    (SELECT string_agg(s2.source || ':' || s2.external_id, ',' ORDER BY s2.id) FROM listing_sources s2 WHERE s2.group_id = g.id)) x
  FROM listing_sources s JOIN groups g ON g.id = s.group_id LEFT JOIN organisations o ON o.id = g.organisation_id
  LEFT JOIN locations l ON l.id = g.location_id) t
UNION ALL
SELECT 'conflicts', count(*), md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT concat_ws(';', (SELECT min(s.source || ':' || s.external_id) FROM listing_sources s WHERE s.group_id = c.group_id), c.field, c.source_a, c.value_a, c.source_b, c.value_b, c.resolved_at IS NULL) x FROM listing_conflicts c) t
UNION ALL
SELECT 'reviews', count(*), md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT concat_ws(';', m.source, m.external_id, (SELECT min(s.source || ':' || s.external_id) FROM listing_sources s WHERE s.group_id = m.candidate_id), m.confidence, m.reasons::text) x FROM match_reviews m) t
UNION ALL
SELECT 'audit', count(*), md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT concat_ws(';', a.action, a.actor_kind, a.changes::text, a.note, (SELECT min(s.source || ':' || s.external_id) FROM listing_sources s WHERE s.group_id = a.group_id)) x FROM listing_audit a) t
UNION ALL
SELECT 'next_meeting', count(*), md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT s.external_id || ':' || g.next_meeting_at x FROM listing_sources s JOIN groups g ON g.id = s.group_id) t;
