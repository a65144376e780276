"""A group's page names its sources by the publisher's name that ingestion stored
(`source_states.display_name`): the web pages read no ingestion configuration."""

from __future__ import annotations

from sqlalchemy import select

from finder.models import ListingSource, SourceState
from ingest.fetch import FetchSettings
from tests.test_ingest_runner import THREE, feed, mg_source, run, serve


def test_the_group_page_names_the_publisher_a_run_stored(app, client, httpserver, session):
    db = app.extensions["db"]
    settings = FetchSettings(connect_timeout=1, read_timeout=1, retries=0)
    source = mg_source(httpserver, name="leeds-centre-feed",
                       organisation="Leeds Community Centre Trust")
    serve(httpserver, feed(*THREE))
    assert run(db, source, settings).outcome == "success"
    assert session.scalar(select(SourceState.display_name).where(
        SourceState.source == "leeds-centre-feed")) == "Leeds Community Centre Trust"
    group_id = session.scalar(select(ListingSource.group_id).where(
        ListingSource.external_id == "tuesday-circle"))
    html = client.get(f"/groups/{group_id}").get_data(as_text=True)
    assert "Listed by Leeds Community Centre Trust" in html or (
        ">Leeds Community Centre Trust</a>" in html)

    # a source whose declaration names nobody: its key, made readable
    unnamed = mg_source(httpserver, name="another-feed")
    serve(httpserver, feed(*[{**r, "slug": r["slug"] + "-2", "name": r["name"] + " Two"}
                             for r in THREE]))
    assert run(db, unnamed, settings).outcome == "success"
    other = session.scalar(select(ListingSource.group_id).where(
        ListingSource.source == "another-feed").limit(1))
    assert "Another feed" in client.get(f"/groups/{other}").get_data(as_text=True)
