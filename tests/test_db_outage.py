"""A database restart while the app runs: a fast 503 during the outage, success right after.

The app under test reaches the test database through a TCP proxy on 127.0.0.1 that this
test controls, so "the server went down" is real to the app (its pooled connections are cut,
new ones are refused or never answered) while the other tests' database is not disturbed.
"""

from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy.engine import make_url

from finder import create_app

SEARCH = "/api/v1/groups?near=51.501009,-0.141588"


class Proxy:
    """Forwards 127.0.0.1:<port> to the database; can go down and come back on the same port.

    Modes: "up" forwards; "down" refuses connections (the port is closed) and cuts the
    open ones, as a stopped server does; "silent" accepts and never answers, as an
    unreachable host does.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "up"
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.port = 0
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: "down"
            with self.lock:
                self.sockets.append(client)
            if self.mode == "silent":
                continue  # never answered
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _cut_all(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _stop_listening(self) -> None:
        if self.listener is not None:
            try:  # wakes the accepting thread; close() alone leaves the port open meanwhile
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None

    def down(self) -> None:
        self.mode = "down"
        self._stop_listening()
        self._cut_all()

    def silent(self) -> None:
        self._cut_all()
        self.mode = "silent"

    def up(self) -> None:
        self._cut_all()
        if self.mode == "down":
            self._listen()
        self.mode = "up"

    def close(self) -> None:
        self._stop_listening()
        self._cut_all()


@pytest.fixture
def proxied(database_urls):
    url = make_url(database_urls)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    app = create_app({"DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port)
                      .render_as_string(hide_password=False), "TESTING": True,
                      "ONLINE_GEOCODER": False})
    try:
        yield proxy, app.test_client()
    finally:
        app.extensions["db"].dispose()
        proxy.close()


def get(client, path: str):
    """The response, from a thread: a hung request fails the test instead of hanging it."""
    out = []
    worker = threading.Thread(target=lambda: out.append(client.get(path)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert out, f"GET {path} hung while the database was unreachable"
    return out[0]


def test_a_restart_gives_503s_then_searches_work_without_restarting_the_app(proxied):
    proxy, client = proxied
    for _ in range(3):  # several pooled connections exist when the server goes away
        assert get(client, SEARCH).status_code == 200

    proxy.down()
    for path in (SEARCH, "/healthz", "/api/v1/groups/1"):
        response = get(client, path)
        assert response.status_code == 503 and response.is_json, path
        assert response.headers["Retry-After"]
    page = get(client, "/?near=SW1A+1AA")
    assert page.status_code == 503 and "try again" in page.get_data(as_text=True)

    proxy.up()  # back: the pooled connections it cut are noticed and replaced
    assert get(client, SEARCH).status_code == 200
    assert get(client, "/healthz").get_json()["database"] == "ok"


def test_an_unreachable_server_is_a_503_after_the_connect_timeout_not_a_hang(proxied):
    proxy, client = proxied
    assert get(client, SEARCH).status_code == 200
    proxy.silent()  # accepts connections and never answers
    response = get(client, SEARCH)
    assert response.status_code == 503 and response.is_json
    proxy.up()
    assert get(client, SEARCH).status_code == 200


def test_a_connection_lost_mid_request_is_a_503_not_a_500(app, client, session, monkeypatch):
    """The server goes away after the request's session was used (geocoding a postcode) and
    before the search's own SQL: the answer is the 503, and tearing the request down on the
    dead connection does not turn it into a 500."""
    from sqlalchemy import text

    import finder.search.query as search_query

    real_nearby = search_query.nearby

    def nearby_after_the_server_left(cursor, *args, **kwargs):
        pid = cursor.connection.info.backend_pid
        with app.extensions["db"].engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return real_nearby(cursor, *args, **kwargs)

    monkeypatch.setattr(search_query, "nearby", nearby_after_the_server_left)
    response = client.get("/api/v1/groups?near=SW1A%201AA")
    assert response.status_code == 503 and response.is_json
    assert response.headers["Retry-After"]
    monkeypatch.setattr(search_query, "nearby", real_nearby)
    assert client.get("/api/v1/groups?near=SW1A%201AA").status_code == 200
