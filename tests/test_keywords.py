"""Keyword search: relevance, every filter with `q`, the index kept in step with the
database (sync, rebuild, check), and the database answering when the index cannot."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from finder.keywords import reader, store, sync
from finder.models import Organisation
from tests.factories import bulk_in_person_groups, make_group, offset

LONDON = (51.501009, -0.141588)  # SW1A 1AA
NEAR = f"{LONDON[0]},{LONDON[1]}"
THURSDAY_MORNING = {"freq": "weekly", "weekday": 3, "start_time": dt.time(10, 0)}


class Index:
    """A test's own index directory, served to the app's requests; the index is written
    from committed data, as `groupfinder index` does (so the test's setup is committed)."""

    def __init__(self, app, root, live) -> None:
        self.app, self.root, self.live = app, root, live
        self.engine = app.extensions["db"].engine

    def rebuild(self, **kw):
        self.live.commit()
        return sync.rebuild(self.engine, self.root, **kw)

    def sync(self):
        self.live.commit()
        return sync.sync(self.engine, self.root)

    def check(self):
        self.live.commit()
        return sync.check(self.engine, self.root)


@pytest.fixture
def index(app, client, live, tmp_path, monkeypatch):
    """Requests' mode (`client`): the tests' data is committed, as the index needs."""
    root = tmp_path / "index"
    monkeypatch.setitem(app.config, "KEYWORD_INDEX_DIR", str(root))
    monkeypatch.setitem(app.extensions, "keywords", reader.KeywordIndex(root, 3600))
    return Index(app, root, live)


def names(body):
    return [r["name"] for r in body["results"]]


def search(client, **args):
    response = client.get("/api/v1/groups", query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def at(session, name, km=1.0, **kw):
    lat, lng = offset(*LONDON, north_km=km)
    return make_group(session, name, lat=lat, lng=lng, **kw)


@pytest.fixture
def groups(session):
    return {
        "dads": at(session, "Fathers after loss", 2, audiences=["dads"],
                   description="An evening circle for fathers."),
        "tfmr": at(session, "Ending a wanted pregnancy", 3, loss_types=["tfmr"],
                   description="For parents after termination for medical reasons."),
        "still": at(session, "Stillborn babies remembered", 4, loss_types=["stillbirth"]),
        "nicu": make_group(session, "After the NICU", format="virtual", loss_types=[
            "neonatal_death"], description="Online, for parents whose baby died in neonatal "
                                           "care."),
        "rainbow": at(session, "Rainbow pregnancy group", 6,
                      loss_types=["pregnancy_after_loss"]),
        "spanish": make_group(session, "Grupo de apoyo en español", format="virtual",
                              languages=["es"], description="Un grupo para familias."),
        "ectopic": make_group(session, "Ectopic pregnancy online", format="virtual",
                              loss_types=["ectopic"], schedules=[THURSDAY_MORNING]),
        "plain": at(session, "Miscarriage support", 8,
                    description="A group that sometimes welcomes fathers too."),
    }


# ----------------------------------------------------------------------------- relevance


@pytest.mark.parametrize("q, expected", [
    ("TFMR", "Ending a wanted pregnancy"),  # the name does not say TFMR; tags and words do
    ("termination for medical reasons", "Ending a wanted pregnancy"),
    ("dads", "Fathers after loss"),
    ("stillbirth", "Stillborn babies remembered"),
    ("neonatal", "After the NICU"),
    ("pregnancy after loss", "Rainbow pregnancy group"),
    ("espanol", "Grupo de apoyo en español"),  # accents folded
    ("grupo en español", "Grupo de apoyo en español"),
    ("stilbirth", "Stillborn babies remembered"),  # a typo in a long word
    ("miscarrage", "Miscarriage support"),
    ("ectopik", "Ectopic pregnancy online"),  # one letter from the word, two from its stem
    ("ectpoic", "Ectopic pregnancy online"),  # two letters swapped in a short word
    ("fahters", "Fathers after loss"),
    ("ectopic online", "Ectopic pregnancy online"),
    ("remembering", "Stillborn babies remembered"),  # stemming
])
def test_relevance_cases(client, groups, index, q, expected):
    index.rebuild()
    body = search(client, q=q)
    assert body["keywords"]["answered_by"] == "index"
    assert names(body)[0] == expected, names(body)


def test_a_swap_of_neighbouring_letters_is_one_typo():
    from finder.keywords.scoring import swaps

    assert swaps("greif") == {"rgeif", "gerif", "grief", "grefi"}
    assert swaps("greif", keep=1) == {"gerif", "grief", "grefi"}  # the first letter stays
    assert swaps("loos") == {"olos", "loso"}  # swapping two equal letters changes nothing


def test_a_name_match_ranks_above_a_description_match(client, groups, index):
    index.rebuild()
    found = names(search(client, q="fathers"))
    assert found.index("Fathers after loss") < found.index("Miscarriage support")


def test_did_you_mean_when_little_is_found(client, groups, index):
    index.rebuild()
    body = search(client, q="dadz")  # four letters: no typo matching, so a suggestion
    assert body["keywords"]["did_you_mean"] == "dads"
    assert search(client, q="dads")["keywords"]["did_you_mean"] is None


@pytest.mark.parametrize("q", ['"', '*', ':', '(', ')', 'AND', 'OR NOT', 'name:dads', 'dads~2',
                               '[a TO z]', '"fathers', 'fath*', '((', '-', '^2', '\\'])
def test_whoosh_syntax_characters_never_raise(client, groups, index, q):
    index.rebuild()
    search(client, q=q)
    search(client, q=q, near=NEAR)
    assert client.get("/", query_string={"q": q}).status_code == 200


def test_syntax_characters_in_the_database_fallback(client, groups, index):
    for q in ['"', '*', ':(', 'AND', '!!']:  # no searchable word: q is set aside
        assert search(client, q=q)["keywords"]["answered_by"] is None
    for q in ['fathers OR', 'fathers:(', '"fathers', 'fathers AND (', '-(fathers']:
        body = search(client, q=q)  # PostgreSQL answers, reading any text
        assert body["keywords"]["answered_by"] == "database"
        assert names(body)[0] == "Fathers after loss", (q, names(body))


# ----------------------------------------------------------------------------- filters


def test_every_filter_combines_with_q(client, session, index):
    near_evening = at(session, "Evening dads near", 2, audiences=["dads"])
    at(session, "Morning dads near", 3, audiences=["dads"], schedules=[THURSDAY_MORNING])
    at(session, "Evening dads far", 60, audiences=["dads"])
    at(session, "Evening mums near", 2, audiences=["birthing_parents"])
    at(session, "Paid dads near", 2, audiences=["dads"], cost="fee")
    at(session, "Register dads near", 2, audiences=["dads"], join_mode="register",
       join_url="https://example.org/r")
    at(session, "Welsh dads near", 2, audiences=["dads"], languages=["cy"])
    at(session, "Stillbirth dads near", 2, audiences=["dads"], loss_types=["stillbirth"])
    make_group(session, "Online dads", format="virtual", audiences=["dads"])
    index.rebuild()

    def found(**args):
        return set(names(search(client, q="dads", **args)))

    assert "Evening dads far" not in found(near=NEAR, radius="10")
    assert found(near=NEAR, radius="100") >= {"Evening dads far", "Evening dads near"}
    assert found(near=NEAR, format="virtual") == {"Online dads"}
    assert "Online dads" not in found(near=NEAR, format="in_person")
    assert "Morning dads near" not in found(near=NEAR, day="tue")
    assert "Morning dads near" in found(near=NEAR, day="thu")
    assert "Morning dads near" in found(near=NEAR, time="morning")
    assert "Evening dads near" not in found(near=NEAR, time="morning")
    assert found(near=NEAR, within_days="7") >= {"Evening dads near", "Morning dads near"}
    assert found(near=NEAR, loss="stillbirth") == {"Stillbirth dads near"}
    assert found(near=NEAR, language="cy") == {"Welsh dads near"}
    assert found(near=NEAR, cost="fee") == {"Paid dads near"}
    assert found(near=NEAR, join="register") == {"Register dads near"}
    assert "Evening mums near" not in found(near=NEAR)
    assert found(audience="birthing_parents") == set()  # dads AND birthing parents: none
    preview = search(client, q="dads", near=NEAR)["online"]["results"]
    assert [r["name"] for r in preview] == ["Online dads"]
    body = search(client, q="dads", near=NEAR, loss="stillbirth")
    assert body["facets"]["loss"] == {"stillbirth": 1}
    assert near_evening.id not in [r["id"] for r in body["results"]]


def test_totals_and_pages_with_q(client, session, index):
    for i in range(5):
        at(session, f"Dads group {i}", 1 + i, audiences=["dads"])
    at(session, "Not this one", 1)
    index.rebuild()
    first = search(client, q="dads", near=NEAR, per_page="2")
    assert (first["total"], first["total_exact"], first["total_pages"]) == (5, True, 3)
    seen = names(first)
    seen += names(search(client, q="dads", near=NEAR, per_page="2", page="2"))
    last = search(client, q="dads", near=NEAR, per_page="2", page="3")
    seen += names(last)
    assert seen == [f"Dads group {i}" for i in range(5)]  # nearest first
    assert last["total"] == 5
    assert client.get("/api/v1/groups", query_string={
        "q": "dads", "near": NEAR, "per_page": "2", "page": "4"}).status_code == 422


def test_order_relevance_without_near_distance_with_near(client, session, index):
    at(session, "Support", 1, description="dads dads dads, for dads")
    at(session, "Dads", 9, audiences=["dads"], description="For dads.")
    index.rebuild()
    assert names(search(client, q="dads"))[0] == "Dads"  # the name counts most
    assert names(search(client, q="dads", near=NEAR)) == ["Support", "Dads"]  # nearest
    assert search(client, q="dads")["results"][0]["snippet"].startswith(
        'For <mark class="match t0">dads</mark>')


def test_sort_relevance_needs_q(client):
    response = client.get("/api/v1/groups", query_string={"sort": "relevance"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "sort"


def test_q_too_long_is_a_400_naming_the_field(client):
    response = client.get("/api/v1/groups", query_string={"q": "x" * 201})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "q"


# ----------------------------------------------------------------------------- kept in step


def test_sync_after_create_update_withdraw_pause_and_delete(client, session, index):
    kept = at(session, "Kept", 1, description="nothing special")
    gone = at(session, "Deleted later", 2, description="hospital")
    index.rebuild()
    assert names(search(client, q="hospital")) == ["Deleted later"]

    created = at(session, "Created after", 3, description="hospital")
    kept.description = "now at the hospital"
    session.commit()
    assert set(names(search(client, q="hospital"))) == {"Deleted later"}  # not synced yet
    report = index.sync()
    assert (report.indexed, report.removed) == (2, 0)
    assert set(names(search(client, q="hospital"))) == {"Deleted later", "Created after",
                                                        "Kept"}

    created.status = "withdrawn"
    kept.status = "paused"
    session.commit()
    index.sync()
    assert names(search(client, q="hospital")) == ["Deleted later"]

    session.execute(text("DELETE FROM groups WHERE id = :id"), {"id": gone.id})
    session.commit()
    report = index.sync()
    assert report.removed >= 1
    assert names(search(client, q="hospital")) == []
    assert index.check().ok


def test_renaming_an_organisation_reindexes_its_groups(client, session, index):
    org = Organisation(name="Tommy Trust")
    session.add(org)
    session.flush()
    at(session, "Circle", 1, organisation_id=org.id)
    index.rebuild()
    assert names(search(client, q="tommy")) == ["Circle"]
    org.name = "Harbour Trust"
    session.commit()
    index.sync()
    assert names(search(client, q="harbour")) == ["Circle"]
    assert names(search(client, q="tommy")) == []


def test_a_change_committed_after_the_sync_began_is_not_skipped(app, client, session, index):
    group = at(session, "Late", 1, description="before")
    index.rebuild()
    engine = app.extensions["db"].engine
    with engine.connect() as late:  # a writer whose transaction started before the sync
        late.execute(text("UPDATE groups SET description = 'lighthouse' WHERE id = :id"),
                     {"id": group.id})
        index.sync()  # does not see the uncommitted change
        late.commit()
    assert names(search(client, q="lighthouse")) == []
    index.sync()
    assert names(search(client, q="lighthouse")) == ["Late"]


def test_an_unrelated_update_does_not_mark_the_group(session, index):
    group = at(session, "Quiet", 1)
    session.commit()
    before = session.execute(text("SELECT index_xid::text FROM groups WHERE id = :id"),
                             {"id": group.id}).scalar()
    session.execute(text("UPDATE groups SET next_meeting_at = now() + interval '1 day', "
                         "last_confirmed = current_date WHERE id = :id"), {"id": group.id})
    session.commit()
    after = session.execute(text("SELECT index_xid::text FROM groups WHERE id = :id"),
                            {"id": group.id}).scalar()
    assert before == after


def test_check_reports_differences(client, session, index):
    group = at(session, "Checked", 1)
    index.rebuild()
    assert index.check().ok
    group.name = "Checked again"
    at(session, "New", 2)
    session.commit()
    report = index.check()
    assert report.outdated == [group.id] and len(report.missing) == 1
    index.sync()
    assert index.check().ok


def test_an_interrupted_rebuild_leaves_the_old_index_serving(client, session, index):
    for i in range(4):
        at(session, f"Dads {i}", 1 + i, audiences=["dads"])
    index.rebuild()
    serving = store.current_dir(index.root)
    at(session, "Dads new", 9, audiences=["dads"])
    session.commit()
    with pytest.raises(RuntimeError):
        index.rebuild(crash_after=2)
    assert store.current_dir(index.root) == serving
    assert [p for p in index.root.glob("gen-*")] == [serving]  # the half-built one is gone
    body = search(client, q="dads")
    assert body["keywords"]["answered_by"] == "index" and body["total"] == 4
    index.rebuild()
    assert search(client, q="dads")["total"] == 5


def test_two_writers_are_never_at_work(session, index):
    at(session, "One", 1)
    index.rebuild()
    with store.writer_lock(index.root):
        with pytest.raises(store.WriterBusy):
            with store.writer_lock(index.root):
                pass


SEARCHER = textwrap.dedent("""
    import sys, pathlib
    from whoosh import index
    from finder.keywords import query, store
    root, stop = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    searches = 0
    while not stop.exists() or searches < 20:
        ix = index.open_dir(str(store.current_dir(root)))
        with ix.searcher() as s:
            m = query.match(s, "dads")
            assert m is not None and len(m.ids) >= 3, m
        searches += 1
    print(searches)
""")


def test_two_processes_search_while_one_syncs(session, index, tmp_path):
    groups = [at(session, f"Dads {i}", 1 + i, audiences=["dads"]) for i in range(3)]
    index.rebuild()
    stop = tmp_path / "stop"
    searchers = [subprocess.Popen([sys.executable, "-c", SEARCHER, str(index.root), str(stop)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    try:
        for round_ in range(6):
            for g in groups:
                g.description = f"round {round_}"
            at(session, f"Dads extra {round_}", 20 + round_, audiences=["dads"])
            session.commit()
            index.sync()
    finally:
        stop.touch()
    for p in searchers:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert int(out) >= 20
    assert index.check().ok


# ----------------------------------------------------------------------------- fallback


def test_missing_index_falls_back_to_the_database(client, groups, index, caplog):
    with caplog.at_level(logging.WARNING, logger="finder.keywords"):
        body = search(client, q="stillborn")
    assert body["keywords"]["answered_by"] == "database"
    assert names(body) == ["Stillborn babies remembered"]
    assert body["facets"]["format"] == {"in_person": 1}
    assert body["facets"]["loss"] == {"stillbirth": 1}
    near = search(client, q="stillborn", near=NEAR)  # nearby and online lists both counted
    assert near["facets"]["format"] == {"in_person": 1}
    assert "missing" in caplog.text and "stillborn" not in caplog.text
    health = client.get("/healthz").get_json()
    assert health["keyword_index"]["status"] == "missing"
    assert health["status"] == "ok"


def test_a_corrupt_index_falls_back_and_says_so(client, groups, index, caplog):
    index.rebuild()
    for path in store.current_dir(index.root).iterdir():
        if path.name != store.STATE:
            path.write_bytes(b"\x00garbage")
    with caplog.at_level(logging.WARNING, logger="finder.keywords"):
        body = search(client, q="stillborn")
        page = client.get("/", query_string={"q": "stillborn"})
    assert body["keywords"]["answered_by"] == "database"
    assert names(body) == ["Stillborn babies remembered"]
    assert page.status_code == 200
    assert "unreadable" in caplog.text and "stillborn" not in caplog.text
    assert client.get("/healthz").get_json()["keyword_index"]["status"] == "unreadable"
    index.rebuild()  # a rebuild repairs it
    assert search(client, q="stillborn")["keywords"]["answered_by"] == "index"


def test_a_stale_index_falls_back(app, client, session, index, monkeypatch):
    at(session, "Harbour", 1)
    index.rebuild()
    monkeypatch.setattr(app.extensions["keywords"], "stale_after_s", 0)
    assert search(client, q="harbour")["keywords"]["answered_by"] == "index"  # no changes
    at(session, "Lighthouse", 2)
    session.commit()
    app.extensions["keywords"]._changes_checked = (0.0, -1, False)
    body = search(client, q="lighthouse")
    assert body["keywords"]["answered_by"] == "database" and names(body) == ["Lighthouse"]
    assert client.get("/healthz").get_json()["keyword_index"]["status"] == "stale"
    index.sync()
    assert search(client, q="lighthouse")["keywords"]["answered_by"] == "index"


# ----------------------------------------------------------------------------- the page


def test_page_keyword_box_snippets_suggestion_and_facets(client, session, index):
    at(session, "Dads <b>circle</b>", 1, audiences=["dads"],
       description="<script>alert(1)</script> A place for dads & partners.")
    at(session, "Another dads group", 2, audiences=["dads"], schedules=[THURSDAY_MORNING])
    index.rebuild()
    html = client.get("/", query_string={"q": "dads", "near": NEAR}).get_data(as_text=True)
    assert 'id="q"' in html and 'value="dads"' in html
    assert "<script>alert" not in html and "script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark class="match t0">dads</mark> &amp; <mark' in html
    assert "Dads &lt;b&gt;circle&lt;/b&gt;" in html
    assert 'class="facets"' in html and "Thursday</a> <span class=\"count\">(1)" in html
    assert "Tuesday</a> <span class=\"count\">(1)" in html
    missed = client.get("/", query_string={"q": "dadz"}).get_data(as_text=True)
    assert 'Did you mean <a href="/?q=dads">dads</a>' in missed


def test_cli_index_commands(app, session, index):
    at(session, "Command line", 1)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["index", "check"])
    assert result.exit_code == 1
    result = runner.invoke(args=["index", "sync"])  # no index yet: builds one
    assert result.exit_code == 0, result.output
    assert "built one with 1 groups" in result.output
    assert runner.invoke(args=["index", "check"]).exit_code == 0
    session.execute(text("UPDATE groups SET name = 'Renamed'"))
    session.commit()
    result = runner.invoke(args=["index", "check"])
    assert result.exit_code == 1 and "out of date" in result.output
    assert "1 indexed" in runner.invoke(args=["index", "sync"]).output
    assert runner.invoke(args=["index", "rebuild"]).exit_code == 0


def test_ingest_run_syncs_the_index(app, client, session, index, httpserver, tmp_path,
                                    monkeypatch):
    at(session, "Before the ingest", 1)
    index.rebuild()
    from finder.cli import command_group
    from tests.test_ingest_runner import MG, THREE, feed, write_sources

    sources = write_sources(tmp_path, httpserver, "good")
    httpserver.expect_request("/feed.json").respond_with_data(feed(*THREE), content_type=MG)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # the `groupfinder` group, with plugins
    result = app.test_cli_runner().invoke(command_group(), args=[
        "ingest", "run", "good", "--sources", str(sources)])
    assert result.exit_code == 0, result.output
    assert "Keyword index: 3 indexed, 0 removed." in result.output
    assert index.check().ok


def test_sync_rebuilds_an_index_of_another_schema_version(client, session, index):
    at(session, "Versioned", 1)
    index.rebuild()
    generation = store.current_dir(index.root)
    old = store.read_state(generation)
    store.write_state(generation, store.State(old.xmin, old.synced_at, old.groups, schema=1))
    report = index.sync()
    assert report.full and store.current_dir(index.root) != generation
    assert index.check().ok


def test_array_scoring_equals_whoosh_scoring(session, groups, index):
    """`scoring.Scorer` answers with Whoosh's own matches, scores and order, also on an
    index of several segments with deleted documents (after syncs)."""
    from whoosh import index as whoosh_index

    from finder.keywords import query, scoring

    index.rebuild()
    groups["plain"].description = "Fathers and mothers, evenings, online too."
    at(session, "Dads evening online", 9, audiences=["dads"], description="stillbirth")
    groups["rainbow"].status = "withdrawn"
    index.sync()
    ix = whoosh_index.open_dir(str(store.current_dir(index.root)))
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) > 1  # the sync wrote a segment of its own
        scorer = scoring.Scorer(searcher)
        ids = list(searcher.reader().column_reader("gid"))
        for q in ("dads", "fathers evening", "stilbirth", "ectopik online", "tfmr",
                  "grupo en español", "pregnancy after loss", "miscarrage", "online"):
            for built in filter(None, query.build(q)):
                want = searcher.search(built, limit=None).top_n
                got_ids, got_scores = scorer.ranked(built)
                assert got_ids.tolist() == [ids[d] for _s, d in want], q
                assert got_scores.tolist() == pytest.approx([s for s, _d in want]), q


# ----------------------------------------------------------------------------- walks


@pytest.fixture
def many(session):
    """Forty groups matching "dads" to different degrees (many tied), of every format, at
    every distance up to 30 km, with every filter's values spread among them."""
    days = [{"freq": "weekly", "weekday": d, "start_time": dt.time(h, 0)}
            for d, h in ((1, 19), (3, 10), (5, 14), (2, 20))]
    for i in range(40):
        fmt = ("in_person", "hybrid", "virtual", "in_person")[i % 4]
        fields = dict(
            audiences=["dads"] if i % 5 else ["partners", "dads"],
            loss_types=["stillbirth"] if i % 3 == 0 else ["miscarriage"],
            languages=["cy"] if i % 7 == 0 else ["en"], cost="fee" if i % 6 == 0 else "free",
            join_mode="register" if i % 8 == 0 else "drop_in",
            join_url="https://example.org/r" if i % 8 == 0 else None,
            description="For dads. " * (1 + i % 3) + ("Evening circle." if i % 2 else ""),
            schedules=[days[i % 4]], service_countries=["*"] if i % 9 == 0 else None)
        name = f"Dads group {i % 6}"  # names repeat: equal scores, ties for the walk
        if fmt == "virtual":
            make_group(session, name, format=fmt, **fields)
        else:
            at(session, name, 0.5 + 0.75 * i, format=fmt, **fields)
    for k in range(12):  # the same words, so the same score: meeting earlier goes first
        # (in neither the order they were made nor its reverse)
        make_group(session, "Fathers online circle", format="virtual", audiences=["dads"],
                   description="For dads.", schedules=[
                       {"freq": "weekly", "weekday": 1, "start_time": dt.time(20, k * 7 % 12 * 4)}])
    lat, lng = offset(*LONDON, north_km=3.3)
    for k in range(5):  # at one venue: the same distance, for a walk to stop amid them
        make_group(session, f"Venue dads {k}", lat=lat, lng=lng, audiences=["dads"],
                   description="dads " * (k + 1))
    at(session, "Mums only", 1, audiences=["birthing_parents"])


WALKED_SEARCHES = [
    {}, {"format": "virtual"}, {"format": "in_person"}, {"day": "thu"}, {"sort": "next"},
    {"near": NEAR}, {"near": NEAR, "radius": "10"}, {"near": NEAR, "format": "in_person"},
    {"near": NEAR, "format": "hybrid"}, {"near": NEAR, "format": "virtual"},
    {"near": NEAR, "day": "tue"}, {"near": NEAR, "time": "evening"},
    {"near": NEAR, "within_days": "7"}, {"near": NEAR, "loss": "stillbirth"},
    {"near": NEAR, "audience": "partners"}, {"near": NEAR, "language": "cy"},
    {"near": NEAR, "cost": "fee"}, {"near": NEAR, "join": "register"},
    {"near": NEAR, "sort": "next"}, {"near": NEAR, "format": "virtual", "day": "fri"},
]


def _walked_answers(client, q, searches=WALKED_SEARCHES):
    """What the API says for each search (pages 1 to 4 of 3): results, totals, the online
    groups beside them, facets."""
    out = []
    for args in searches:
        for page in (1, 2, 3, 4):
            response = client.get("/api/v1/groups", query_string={
                "q": q, "per_page": "3", "page": str(page), **args})
            body = response.get_json()
            if response.status_code == 422:  # past the end
                out.append((args, page, body["error"]["field"]))
                continue
            assert response.status_code == 200, body
            assert body["keywords"]["answered_by"] == "index"
            online = body.get("online") or {}
            out.append((args, page, [r["id"] for r in body["results"]], body["total"],
                        body["total_exact"], [r["id"] for r in online.get("results", [])],
                        online.get("has_more"), body["facets"]))
    return out


@pytest.mark.parametrize("q", ["dads", "evening dads"])
def test_walking_the_matches_in_small_steps_answers_as_joining_them_all(
        client, many, index, monkeypatch, q):
    """Chunks of one match (ties kept whole) and nearest-first walks of two groups give the
    same pages, totals, online groups and facets, with every filter, as one statement over
    all the matches (chunks and walks larger than the data)."""
    from finder.search import query

    index.rebuild()
    monkeypatch.setattr(query, "COUNT_CAP", 4)  # counted, and facets, over a few only
    monkeypatch.setattr(query, "FACET_CAP", 4)
    for name, value in (("FIRST_CHUNK", 10**6), ("FIRST_NEAREST", 10**6)):
        monkeypatch.setattr(query, name, value)
    whole = _walked_answers(client, q)
    sent: list[int] = []
    real = query.pgarrays.int4s
    monkeypatch.setattr(query.pgarrays, "int4s", lambda a: sent.append(len(a)) or real(a))
    for name, value in (("FIRST_CHUNK", 1), ("FIRST_TIMES", 0), ("FIRST_NEAREST", 1),
                        ("GROWTH", 2)):
        monkeypatch.setattr(query, name, value)
    stepped = _walked_answers(client, q)
    assert stepped == whole
    assert sum(1 for a in whole if len(a) > 3 and a[3]) > 20  # most searches found some
    assert min(sent) < 5 < max(sent)  # small chunks went, and larger ones after them


@pytest.mark.parametrize("q", ["dads", "evening dads"])
def test_what_the_index_knows_of_the_filters_answers_as_the_database(
        client, many, index, monkeypatch, q):
    """Sending the database only the matches whose filter values (in the index) can pass,
    asking for the matches within the radius instead of walking the nearest groups, and
    counting facets from the index give the same pages, totals, online groups and facets
    as the database alone."""
    from finder.keywords.attributes import Attributes
    from finder.search import query

    index.rebuild()
    searches = WALKED_SEARCHES + [
        {"near": NEAR, "day": "tue", "time": "evening"}, {"near": NEAR, "day": "thu"},
        {"near": NEAR, "loss": "stillbirth", "audience": "partners"},
        {"near": NEAR, "format": "virtual", "loss": "stillbirth"},
        {"loss": "stillbirth", "cost": "fee"}]
    keep, facets = Attributes.keep, Attributes.facets
    monkeypatch.setattr(query, "MATCHES_FIRST", 0)
    monkeypatch.setattr(Attributes, "keep", lambda self, docs, wanted: None)
    monkeypatch.setattr(Attributes, "facets", lambda self, gids: None)
    database = _walked_answers(client, q, searches)

    used = {"narrowed": 0, "facets": 0, "within": 0}

    def narrowing(self, docs, wanted):
        out = keep(self, docs, wanted)
        used["narrowed"] += int(out is not None and not out.all())
        return out

    def counting(self, gids):
        out = facets(self, gids)
        used["facets"] += out is not None
        return out

    within = query._matches_within
    monkeypatch.setattr(Attributes, "keep", narrowing)
    monkeypatch.setattr(Attributes, "facets", counting)
    monkeypatch.setattr(query, "_matches_within",
                        lambda *a: used.__setitem__("within", used["within"] + 1) or within(*a))
    monkeypatch.setattr(query, "MATCHES_FIRST", 10**6)
    assert _walked_answers(client, q, searches) == database
    assert all(used.values()), used  # each shortcut was taken, and some matches left out


def test_a_reopened_searcher_lets_the_old_ones_matches_go(app, client, session, index):
    """Cached matches hold their searcher's arrays (the filter values): when a sync moves
    the index on, the process keeps none of the old searcher's."""
    at(session, "Dads nearby", 1, audiences=["dads"])
    index.rebuild()
    keywords = app.extensions["keywords"]
    search(client, q="dads", near=NEAR)
    old = {m.attributes for m in keywords._cache.values() if m is not None}
    assert len(old) == 1
    at(session, "Dads further", 5, audiences=["dads"])
    index.sync()
    assert len(names(search(client, q="dads", near=NEAR))) == 2
    kept = {m.attributes for m in keywords._cache.values() if m is not None}
    assert kept and not kept & old


def test_a_change_to_a_filter_value_the_index_holds_reaches_it(client, session, index):
    """The countries an online group serves and a group's cost are in the index (it sends
    the database only matches that can pass): changing them marks the group for the next
    sync (migration 0017), as changing its name does."""
    online = make_group(session, "Dads online", format="virtual", audiences=["dads"],
                        service_countries=["US"])
    paid = at(session, "Dads nearby", 1, audiences=["dads"], cost="free")
    index.rebuild()

    def online_names():
        return names(search(client, q="dads", near=NEAR)["online"])

    assert online_names() == []
    assert names(search(client, q="dads", near=NEAR, cost="fee")) == []
    session.execute(text("UPDATE groups SET service_countries = '{GB}' WHERE id = :id"),
                    {"id": online.id})
    session.execute(text("UPDATE groups SET cost = 'fee' WHERE id = :id"), {"id": paid.id})
    index.sync()
    assert online_names() == ["Dads online"]
    assert names(search(client, q="dads", near=NEAR, cost="fee")) == ["Dads nearby"]
    assert index.check().ok


@pytest.mark.parametrize("matches_first", [0, 10**6])
def test_at_one_venue_confirmed_groups_come_first_then_the_better_match(
        client, session, index, monkeypatch, matches_first):
    """The nearby list's order with `q`, whichever way its matches are found: nearest
    first; at equal distance, groups confirmed lately before those that may be out of
    date, then the better match. Distances are the same as without `q`."""
    from finder.search import query

    monkeypatch.setattr(query, "MATCHES_FIRST", matches_first)
    old = dt.date.today() - dt.timedelta(days=200)
    venue = at(session, "Dads venue stale strong", 3, last_confirmed=old,
               description="dads dads dads").location
    for name, confirmed, words in (("Dads venue weak", dt.date.today(), "for parents"),
                                   ("Dads venue strong", dt.date.today(), "dads dads dads")):
        at(session, name, 3, last_confirmed=confirmed, description=words).location = venue
    at(session, "Dads nearer, stale, weak", 1, last_confirmed=old, description="parents")
    index.rebuild()
    body = search(client, q="dads", near=NEAR)
    assert [(r["name"], r["stale"]) for r in body["results"]] == [
        ("Dads nearer, stale, weak", True), ("Dads venue strong", False),
        ("Dads venue weak", False), ("Dads venue stale strong", True)]
    without_q = {r["id"]: r["distance"] for r in search(client, near=NEAR)["results"]}
    assert {r["id"]: r["distance"] for r in body["results"]} == without_q


def test_a_walk_keeps_ties_whole_and_intersects_in_order():
    import numpy as np

    from finder.search.query import Keywords

    kw = Keywords("index", np.array([5, 3, 9, 4, 7], dtype=np.int32),
                  np.array([3, 2, 2, 2, 1], dtype=np.float32),
                  formats=np.array([0, 1, 1, 2, 0], dtype=np.uint8))
    assert [kw.end_of_chunk(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 4, 4, 4, 5, 5]
    near = kw.among(np.array([7, 8, 5, 4], dtype=np.int32))
    assert near.ids.tolist() == [7, 5, 4] and near.scores.tolist() == [1, 3, 2]
    assert kw.only(("virtual",)).ids.tolist() == [3, 9]  # vocab order: in_person, virtual
    assert kw.only(("in_person", "virtual", "hybrid")) is kw
    assert kw.part(1, 3).formats.tolist() == [1, 1]


def test_the_nearest_walk_uses_the_gist_index(session):
    """The walk's statement reads groups nearest first from the GiST index and stops
    (no radius in its WHERE, which would make PostgreSQL read and sort the whole radius)."""
    from werkzeug.datastructures import MultiDict

    from finder.search import query
    from finder.search.params import parse

    bulk_in_person_groups(session, 20_000)
    now = dt.datetime.now(dt.UTC)
    params = parse(MultiDict({"near": NEAR, "q": "dads"}))
    f = query.filters(params, now, formats=query.IN_A_PLACE)
    values = {**f.values, "formats": list(query.IN_A_PLACE), "lat": LONDON[0],
              "lng": LONDON[1], "radius_m": params.radius_m}
    sql = query._page_sql(query._nearest_sql(f.shape)[0], 512, 0)
    values["after_m"] = 3000.0  # a next walk, from 3 km on
    conn = session.connection().connection.driver_connection
    plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, values))
    assert "Index Scan using ix_groups_point_active" in plan and "Order By" in plan, plan


def test_walks_and_online_lists_are_planned_for_their_own_values(app, client, groups, index):
    """A walk's statements and the online lists are never prepared: psycopg prepares a
    statement after five runs, and PostgreSQL may then settle on one generic plan for every
    searcher's area, filter and chunk of ids (60-100 ms instead of 20 in a sparse area with
    a rare filter)."""
    from finder.search import preview_cache

    index.rebuild()
    for _ in range(8):  # the same search, as often as a busy process runs one shape
        assert search(client, q="fathers", near=NEAR, loss="stillbirth", day="tue")["total"] \
            is not None
        assert names(search(client, q="fathers", near=NEAR))
        # the online lists too (cached for a minute, so planning them costs little)
        preview_cache.clear()
        search(client, near=NEAR, format="virtual", loss="stillbirth")
    engine = app.extensions["db"]._read_engine
    assert engine.pool.checkedin() == 1  # the requests' one connection, back in the pool
    with engine.connect() as conn:
        prepared = [r[0] for r in conn.exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements")]
    assert prepared  # the plain statements (geocoding) are prepared as usual
    walks = [s for s in prepared if "kw_ids" in s or "AS d, ST_DWithin" in s
             or "t.facet" in s or "service_countries &&" in s]
    assert walks == []


def test_the_databases_full_text_search_is_planned_for_its_own_words(app, client, groups,
                                                                     index):
    """When the database answers (no index), its statements are not prepared either: a
    generic plan cannot know how many groups the words match (74 ms instead of 18 for the
    benchmark's searches near a place)."""
    for _ in range(8):
        body = search(client, q="fathers", near=NEAR)
        assert body["keywords"]["answered_by"] == "database"
        search(client, q="fathers", sort="next")
    engine = app.extensions["db"]._read_engine
    with engine.connect() as conn:
        prepared = [r[0] for r in conn.exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements")]
    assert prepared  # geocoding's statements are prepared as usual
    assert [s for s in prepared if "tsquery" in s] == []


def test_a_keyword_search_reads_both_lists_rows_in_one_statement(client, groups, index,
                                                                 monkeypatch):
    """The nearby page and the online groups beside it are found first (ids), and their
    rows read together: one round trip, not one per list."""
    import psycopg

    index.rebuild()
    sent: list[str] = []
    execute = psycopg.Cursor.execute
    monkeypatch.setattr(psycopg.Cursor, "execute",
                        lambda self, q, *a, **k: sent.append(str(q)) or execute(self, q, *a, **k))
    body = search(client, q="pregnancy", near=NEAR)
    assert {"Ending a wanted pregnancy", "Rainbow pregnancy group"} <= set(names(body))
    assert "Ectopic pregnancy online" in [r["name"] for r in body["online"]["results"]]
    assert body["results"][0]["distance"] is not None
    assert body["online"]["results"][0]["distance"] is None
    assert sum("json_agg(json_build_array(s.freq" in q for q in sent) == 1


# ----------------------------------------------------------------------------- building


@pytest.mark.parametrize("procs", [1, 2])
def test_the_bulk_writer_indexes_as_whoosh_writer_does(session, groups, many, index, procs,
                                                       monkeypatch):
    """A rebuild's writer (postings grouped by term, one segment per process) gives the
    same matches, scores and order as Whoosh's own writer given the same documents."""
    from whoosh import index as whoosh_index

    from finder.keywords import analysis, bulk, documents, query, scoring

    monkeypatch.setattr(bulk, "BATCH", 10)  # each process gets some
    index.rebuild(procs=procs)
    plain = index.root / "plain"
    plain.mkdir()
    ix = whoosh_index.create_in(str(plain), analysis.schema())
    writer = ix.writer()
    conn = session.connection().connection.driver_connection
    for row in documents.rows(conn.cursor(), " WHERE g.status = 'active' ORDER BY g.id"):
        writer.add_document(**documents.document(row))
    writer.commit()
    built = whoosh_index.open_dir(str(store.current_dir(index.root)))
    assert len(built.reader().leaf_readers()) == procs
    with ix.searcher() as theirs, built.searcher() as ours:
        assert ours.doc_count() == theirs.doc_count() == len(many_ids(session))
        for text in ("dads", "fathers evening", "stilbirth", "ectopik online", "tfmr",
                     "grupo en español", "pregnancy after loss", "online", "circle"):
            a = query.match(theirs, text, scoring.Scorer(theirs))
            b = query.match(ours, text, scoring.Scorer(ours))
            theirs_found = dict(zip(a.ids.tolist(), a.scores.tolist(), strict=True))
            ours_found = dict(zip(b.ids.tolist(), b.scores.tolist(), strict=True))
            assert ours_found == pytest.approx(theirs_found), text
            assert dict(zip(a.ids.tolist(), a.formats.tolist(), strict=True)) == \
                dict(zip(b.ids.tolist(), b.formats.tolist(), strict=True)), text
            assert a.terms == b.terms, text


def many_ids(session):
    return [r[0] for r in session.execute(text("SELECT id FROM groups WHERE status = 'active'"))]


def test_the_analysis_of_a_weighted_part_is_the_analyzers(groups):
    """Indexing analyses each word once and counts each part's words `times`: the same
    words as the analyzers give, text by text."""
    from finder.keywords import analysis

    texts = ["Fathers’ evening — ESPAÑOL, café; the and a I'm 3.5 e.g. foo*bar ñandú",
             "Stillborn babies remembered: stillbirths, remembering", ""]
    for kind, analyzer in (("text", analysis.text_analyzer()),
                           ("words", analysis.words_analyzer())):
        for t in texts * 2:  # the second time from memory
            assert list(analysis._WORDS[kind](t)) == [tok.text for tok in analyzer(t)]
    field = analysis.WeightedText("text")
    counted = {w.decode(): f for w, f, _wt, _v in field.index([("dads dads", 3), ("dad", 1)])}
    assert counted == {"dad": 7}


def test_a_failed_writing_process_leaves_the_old_index_serving(client, session, many, index,
                                                               monkeypatch):
    from finder.keywords import bulk

    index.rebuild()
    served = store.current_dir(index.root)
    monkeypatch.setattr(bulk, "BATCH", 10)

    def fail(self, *job):
        raise OSError("disk full")

    monkeypatch.setattr(bulk._BulkTask, "_process_file", fail)  # in the forked processes
    with pytest.raises(RuntimeError, match="rebuild wrote 0 of"):
        index.rebuild(procs=2)
    assert store.current_dir(index.root) == served
    assert search(client, q="dads")["keywords"]["answered_by"] == "index"
