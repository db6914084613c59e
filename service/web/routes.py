"""Routes of the case page: the page itself (``/`` and ``/case``) and its static assets."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

blueprint = Blueprint("web", __name__, static_folder="static", static_url_path="/static/web",
                      template_folder="templates")

# Everything from this server; no inline script; the page only talks to its own API.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


@blueprint.get("/", endpoint="index")
@blueprint.get("/case", endpoint="case")
def case_page() -> Response:
    """The case page. ``?evidence=`` is read by the page's script (never by the server, never logged)."""
    service = current_app.extensions["hipdx"]
    html = render_template("case.html", version=service.version, disclaimer=service.disclaimer,
                           population=service.model.describe().get("population", ""))
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the URL may hold a case's answers
    return resp
