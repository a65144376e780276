"""Listings stay true: how current each listing is, and what the finder does about it.

`rules` (pure: dates in, decisions out), `run` (`groupfinder freshness run`, daily),
`links` (the signed "still running" / "we've stopped" links mailed to owners), `views`
(the pages those links open).
"""


def init_app(app) -> None:
    """Issue 7's pages and command: the reminder links, problem reports, the moderators'
    reports and review pages, and `groupfinder freshness run`."""
    from finder.freshness.run import freshness_cli
    from finder.freshness.views import bp as links_bp
    from finder.reports.views import bp as reports_bp
    from finder.review.views import bp as care_bp

    app.register_blueprint(links_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(care_bp)
    app.cli.add_command(freshness_cli)
