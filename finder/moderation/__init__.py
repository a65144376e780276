"""The moderators' pages (/moderation): the queue of changes waiting for a decision, each
change as before/after per field, approving or rejecting it with a reason, trusting an
organisation, and a group's history. Site staff only: anyone else signed in gets 403.

The decisions themselves are `finder.submissions.service`'s (which also mails the
submitter); these pages show and ask.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from finder.moderation.views import bp

    app.register_blueprint(bp, url_prefix="/moderation")
