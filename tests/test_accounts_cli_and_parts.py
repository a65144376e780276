"""The accounts command line, and the small parts: passwords, mailers, the secret key, actors."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from finder.accounts import mailer, passwords, secret_key, users
from finder.accounts.actor import Actor
from finder.accounts.cli import DEMO_MEMBER, DEMO_MODERATOR, DEMO_ORGANISATION
from finder.accounts.errors import AccountError
from finder.accounts.models import User
from finder.models import Organisation
from tests.accounts_support import STRONG, sign_in


def test_create_moderator_from_stdin(app, session, new_client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create-moderator", "Staff@Example.org",
                                 "--password-stdin"], input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    user = users.find_by_email(session, "staff@example.org")
    assert user.is_moderator and user.verified_at is not None
    assert passwords.verify_password(user.password_hash, STRONG)
    assert sign_in(new_client(), "staff@example.org", STRONG).status_code == 302


def test_create_moderator_promotes_an_existing_account(app, session, monkeypatch):
    users.create_user(session, "member@example.org", STRONG)
    session.flush()
    monkeypatch.setenv("GROUPFINDER_MODERATOR_PASSWORD", "unused because the account exists")
    result = app.test_cli_runner().invoke(args=["users", "create-moderator",
                                                "member@example.org"])
    assert result.exit_code == 0 and "password unchanged" in result.output
    session.expire_all()
    user = users.find_by_email(session, "member@example.org")
    assert user.is_moderator and passwords.verify_password(user.password_hash, STRONG)


@pytest.mark.parametrize("email,password,expected", [
    ("not-an-email", STRONG, "error: email:"),
    ("mod@example.org", "too short", "error: password: Use at least 12"),
    ("mod@example.org", "qwerty123456", "error: password: This is one of the most common"),
])
def test_create_moderator_bad_input_is_one_line_and_exit_2(app, session, email, password,
                                                           expected):
    result = app.test_cli_runner().invoke(
        args=["users", "create-moderator", email, "--password-stdin"], input=password + "\n")
    assert result.exit_code == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_accounts_are_idempotent_and_can_sign_in(app, session, new_client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "accounts"])
    second = runner.invoke(args=["demo", "accounts"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert session.scalar(select(func.count()).select_from(User)) == 2
    assert session.scalar(select(func.count()).select_from(Organisation)
                          .where(Organisation.name == DEMO_ORGANISATION)) == 1
    lines = second.output.splitlines()
    member_password = next(ln for ln in lines if DEMO_MEMBER in ln).split("password ")[1]
    moderator_password = next(ln for ln in lines if DEMO_MODERATOR in ln).split("password ")[1]
    assert sign_in(new_client(), DEMO_MEMBER, member_password).status_code == 302
    assert sign_in(new_client(), DEMO_MODERATOR, moderator_password).status_code == 302
    first_password = next(ln for ln in first.output.splitlines()
                          if DEMO_MEMBER in ln).split("password ")[1]
    assert first_password != member_password  # never a password known in advance
    # one demo change waits for the moderator, however often the command runs
    from finder.models import Submission

    pending = session.scalars(select(Submission).where(Submission.state == "pending")).all()
    assert len(pending) == 1 and pending[0].kind == "create"
    assert "the moderation queue (1 waiting): http://127.0.0.1:" in second.output
    org_id = session.scalar(select(Organisation.id).where(
        Organisation.name == DEMO_ORGANISATION))
    assert f"/account/organisations/{org_id}/listings" in second.output


def test_password_rules():
    assert passwords.problem("a" * 11).startswith("Use at least 12")
    assert passwords.problem("x" * 129).startswith("Use at most 128")
    assert "most common" in passwords.problem("QWERTY123456")
    assert "too easy" in passwords.problem("jane.smith.2026", email="jane.smith@example.org")
    assert passwords.problem("quiet harbour lantern 42") is None
    assert len(passwords.common_passwords()) > 25_000


def test_passwords_hash_and_verify():
    h = passwords.hash_password(STRONG)
    assert h.startswith("$argon2id$")
    assert passwords.verify_password(h, STRONG)
    assert not passwords.verify_password(h, STRONG + "!")
    assert not passwords.verify_password(None, STRONG)
    assert not passwords.verify_password("not a hash", STRONG)


def test_email_normalising():
    assert users.normalise_email("  Person@EXAMPLE.Org ") == "Person@example.org"
    for bad in ("", "a@", "@b.org", "a b@c.org", "x" * 250 + "@e.org"):
        with pytest.raises(AccountError) as err:
            users.normalise_email(bad)
        assert err.value.field == "email"


def _message() -> EmailMessage:
    return mailer.compose(sender="Finder <no-reply@example.org>", to="p@example.org",
                          subject="Hello", body="A link: http://x.example/a")


def test_file_mailer_writes_eml(tmp_path):
    box = mailer.from_config({"MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(tmp_path / "m")})
    box.send(_message())
    (path,) = (tmp_path / "m").glob("*.eml")
    text = path.read_text()
    assert "To: p@example.org" in text and "Subject: Hello" in text and "Message-ID:" in text


def test_console_mailer_logs(caplog):
    with caplog.at_level(logging.WARNING, logger="finder.accounts.mailer"):
        mailer.from_config({"MAIL_BACKEND": "console"}).send(_message())
    assert "p@example.org" in caplog.text and "A link" in caplog.text


def test_smtp_mailer_needs_a_server_and_unknown_backends_are_named():
    with pytest.raises(mailer.MailerConfigError, match="MAIL_SERVER"):
        mailer.from_config({"MAIL_BACKEND": "smtp"})
    smtp = mailer.from_config({"MAIL_BACKEND": "smtp", "MAIL_SERVER": "mail.example.org",
                               "MAIL_PORT": "2525", "MAIL_USE_TLS": True})
    assert (smtp.host, smtp.port, smtp.use_tls) == ("mail.example.org", 2525, True)
    with pytest.raises(mailer.MailerConfigError, match="'pigeon' is not one of console"):
        mailer.from_config({"MAIL_BACKEND": "pigeon"})


def test_smtp_mailer_sends_to_a_local_server(tmp_path):
    """A real SMTP conversation with a tiny server on 127.0.0.1."""
    import socket
    import threading

    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        f = conn.makefile("rb")
        conn.sendall(b"220 test ESMTP\r\n")
        in_data = False
        for line in f:
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    conn.sendall(b"250 queued\r\n")
                else:
                    received.append(line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 test\r\n")
            elif verb == b"DATA":
                in_data = True
                conn.sendall(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"250 ok\r\n")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    smtp = mailer.from_config({"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1",
                               "MAIL_PORT": port, "MAIL_USE_TLS": False})
    smtp.send(_message())
    thread.join(timeout=10)
    server.close()
    assert b"Subject: Hello\r\n" in received


def test_generated_secret_key_is_kept_and_private(tmp_path, caplog):
    key_file = tmp_path / "var" / "secret_key"
    with caplog.at_level(logging.WARNING):
        first = secret_key.resolve("", key_file)
    assert "SECRET_KEY is not set" in caplog.text
    assert len(first) == 64 and (key_file.stat().st_mode & 0o777) == 0o600
    assert secret_key.resolve(None, key_file) == first  # every worker agrees
    assert secret_key.resolve("from-the-environment" * 3, key_file) == "from-the-environment" * 3


def test_actor_records_who_acts():
    assert Actor.anonymous().as_record() == {"kind": "anonymous", "label": "anonymous"}
    ingest = Actor.ingestion("st-marys-ical", run_id=7)
    assert ingest.as_record() == {"kind": "ingestion", "source": "st-marys-ical",
                                  "ingest_run_id": 7, "label": "ingestion of st-marys-ical"}


def test_current_actor_in_requests(app, session):
    from flask_login import login_user

    from finder.accounts.actor import current_actor

    user = users.create_user(session, "actor@example.org", STRONG, verified=True,
                             moderator=True)
    session.flush()
    with app.test_request_context("/"):
        assert current_actor().kind == "anonymous"
        login_user(user)
        actor = current_actor(organisation_id=3)
        assert (actor.kind, actor.user_id, actor.organisation_id, actor.is_moderator) == \
            ("user", user.id, 3, True)


def test_moderator_required_and_is_member(app, session):
    from flask_login import login_user, logout_user
    from werkzeug.exceptions import Forbidden

    from finder.accounts import organisations
    from finder.accounts.access import is_member, moderator_required

    member = users.create_user(session, "member@example.org", STRONG, verified=True)
    moderator = users.create_user(session, "staff@example.org", STRONG, verified=True,
                                  moderator=True)
    org = organisations.create_organisation(session, "Member Org", member)
    session.flush()
    view = moderator_required(lambda: "moderation queue")
    with app.test_request_context("/moderation"):
        anonymous = view()
        assert anonymous.status_code == 302 and "/account/sign-in" in anonymous.location
        assert not is_member(org.id)
        login_user(member)
        assert is_member(org.id)
        with pytest.raises(Forbidden):
            view()
        logout_user()
        login_user(moderator)
        assert view() == "moderation queue"
        assert not is_member(org.id)


def test_disable_ends_sessions_and_sign_in(app, client, session):
    users.create_user(session, "gone@example.org", STRONG, verified=True)
    session.flush()
    assert sign_in(client, "gone@example.org", STRONG).status_code == 302
    assert client.get("/account/").status_code == 200
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "disable", "GONE@example.org"]).exit_code == 0
    assert client.get("/account/").status_code == 302  # the session ended
    r = sign_in(client, "gone@example.org", STRONG)
    assert r.status_code == 422 and "do not match an account" in r.get_data(as_text=True)
    missing = runner.invoke(args=["users", "disable", "nobody@example.org"])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert runner.invoke(args=["users", "enable", "gone@example.org"]).exit_code == 0
    assert sign_in(client, "gone@example.org", STRONG).status_code == 302
