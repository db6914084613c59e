"""The case page: one runner's case in the browser (``GET /`` and ``GET /case``).

A Flask blueprint serving one HTML page and its static assets (a plain ES module and a style
sheet, no build step, no CDN). The page builds its form from ``GET /v1/model`` and asks
``POST /v1/diagnosis`` on every change; ``?evidence=<URL-encoded JSON object>`` reopens a case.
"""

from .routes import blueprint

__all__ = ["blueprint"]
