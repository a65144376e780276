"""Listings: the publisher-neutral record, pure normalisation and cross-source matching,
and the one write path to organisations, locations, groups, schedules and provenance.

Everything that writes listings (ingestion, the demo, and later submissions and
moderation) uses this package; it imports nothing from `ingest`.
"""
