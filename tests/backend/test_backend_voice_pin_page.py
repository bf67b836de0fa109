"""The secure "my voice PIN" page (GET /account/voice-pin, bot/web/voice-pin.js): served with the password
page's strict headers, bilingual, and posting exactly what PUT /users/me/voice-pin takes."""
from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "bot" / "web"


def test_the_page_is_served_never_cached_nor_framed(client):
    response = client.get("/account/voice-pin?lang=en")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert re.search(r'<input[^>]+name="current_password"[^>]+type="password"', html)
    for name in ("pin", "confirm_pin"):
        assert re.search(rf'<input[^>]+name="{name}"[^>]+type="password"[^>]+inputmode="numeric"', html), name
    assert '<script src="/chat/voice-pin.js"></script>' in html
    headers = response.headers
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    # only through its own route, not as a plain /chat/ file with the widget's looser headers
    assert client.get("/chat/voice-pin.html").status_code == 404


def test_the_script_sends_what_the_api_takes(client):
    script = client.get("/chat/voice-pin.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    chat_key = re.search(r'TOKEN_KEY = "([^"]+)"', (WEB / "demo.js").read_text()).group(1)
    assert f'TOKEN_KEY = "{chat_key}"' in script.text
    assert '"/users/me/voice-pin"' in script.text and 'method: "PUT"' in script.text
    assert "JSON.stringify({ current_password: current, pin: pin })" in script.text


def test_the_script_is_bilingual():
    script = (WEB / "voice-pin.js").read_text()
    fr = script[script.index("fr: {"):script.index("en: {")]
    en = script[script.index("en: {"):script.index("var $ =")]
    keys = lambda block: set(re.findall(r'(?:^|[\s{,])"?(\w+)"?:\s*"', block))  # noqa: E731
    assert keys(fr) == keys(en) and "errFormat" in keys(en)
    assert "code vocal" in fr and "voice PIN" in en
