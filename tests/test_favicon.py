"""Every page names its icon with a relative ``<link rel="icon">``, and ``/static/favicon.svg`` serves it.

Browsers ask ``/favicon.ico`` of a page that names no icon; the deployed API lives
under a stage path (``/api/...``), where only a link relative to the page reaches
our static route.
"""

import re
from urllib.parse import urljoin
from xml.etree import ElementTree

from tests.conftest import SEED_EVENT_ID


def _icon_href(html: str) -> str:
    [href] = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    return href


def test_every_page_links_the_icon_relative_to_itself(client, seed_event):
    for path in (f"/events/{SEED_EVENT_ID}/register", f"/events/{SEED_EVENT_ID}/thanks?lang=en&status=confirmed"):
        answer = client.http.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 200
        href = _icon_href(answer.body.decode())
        assert urljoin(path, href) == "/static/favicon.svg"
        assert urljoin(f"/api{path}", href) == "/api/static/favicon.svg"  # under the deployed stage path


def test_the_icon_is_served_as_svg(client, aws):
    answer = client.http.get("/static/favicon.svg")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    root = ElementTree.fromstring(answer.body)  # noqa: S314 - the service's own icon, not outside input
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 32 32"


def test_the_openapi_document_lists_the_icon_with_its_type(client, seed_event):
    import json

    document = json.loads(client.http.get("/openapi.json").body)
    static = document["paths"]["/static/{name}"]["get"]
    assert "favicon.svg" in static["parameters"][0]["schema"]["enum"]
    assert "image/svg+xml" in static["responses"]["200"]["content"]
