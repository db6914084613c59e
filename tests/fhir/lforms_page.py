"""Serving NLM LHC-Forms (npm ``lforms``, from ``node_modules``) to the headless browser, offline.

The page and the package's prebuilt web-component files are answered by Playwright's request
routing from a made-up origin: nothing leaves the machine, and the package never has to be
served by hipdx itself (it is a test asset, not part of the product).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LFORMS = ROOT / "node_modules" / "lforms" / "dist" / "lforms"
ORIGIN = "http://lforms.hipdx.test"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hipdx Questionnaire in LHC-Forms</title>
<link rel="stylesheet" href="/lforms/webcomponent/styles.css"></head>
<body><div id="formContainer"></div>
<script src="/lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="/lforms/webcomponent/lhc-forms.js"></script>
<script src="/lforms/fhir/R4/lformsFHIR.min.js"></script>
</body></html>
"""


def lforms_installed() -> bool:
    return (LFORMS / "webcomponent" / "lhc-forms.js").is_file()


def serve(page: Any, missing: list[str]) -> None:
    """Answer every request to :data:`ORIGIN` from the page above and ``node_modules/lforms``;
    anything else the page asks for is refused (and recorded in ``missing``)."""

    def handle(route: Any) -> None:
        url = route.request.url
        path = url[len(ORIGIN):].split("?", 1)[0].lstrip("/")
        if path in ("", "index.html"):
            route.fulfill(status=200, body=PAGE, content_type="text/html")
            return
        if path.startswith("lforms/"):
            file = (LFORMS / path[len("lforms/"):]).resolve()
            if file.is_file() and LFORMS in file.parents:
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
                return
        missing.append(url)
        route.fulfill(status=404, body="")

    def refuse(route: Any) -> None:
        missing.append(route.request.url)
        route.abort()

    page.route("**/*", refuse)
    page.route(f"{ORIGIN}/**", handle)
