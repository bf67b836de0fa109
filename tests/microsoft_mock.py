"""An offline stand-in for Microsoft's side of a Teams bot, served on a local port (standard library only, so both
environments can use it): the Bot Framework OpenID configuration, its JWKS (a test RSA key), the Entra token
endpoint, and a Bot Connector that records the activities it receives (and can be told to fail).

`sign()` makes real RS256 tokens with the test key, shaped like the Bot Connector's."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://api.botframework.com"
APP_ID = "00000000-1111-2222-3333-444444444444"
APP_PASSWORD = "test-app-secret"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
KID = "test-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str, endorsements: Optional[List[str]] = None) -> Dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    if endorsements is not None:
        jwk["endorsements"] = endorsements
    return jwk


class MicrosoftMock:
    def __init__(self) -> None:
        self.key = new_key()
        self.jwks: List[Dict[str, Any]] = [public_jwk(self.key, KID, ["msteams"])]
        self.activities: List[Dict[str, Any]] = []  # {"conversation", "auth", "body"} in arrival order
        self.token_requests: List[Dict[str, List[str]]] = []
        self.key_fetches = 0
        self.fail_next: List[int] = []  # statuses the connector answers before accepting
        self.retry_after: Optional[str] = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.service_url = f"{self.url}/teams/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "MicrosoftMock":
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def settings(self) -> Dict[str, Any]:
        """The channel's settings pointing at this mock."""
        return {"app_id": APP_ID, "tenant_id": TENANT, "openid_metadata_url": f"{self.url}/openid",
                "issuer": ISSUER, "token_url": self.url + "/{tenant}/oauth2/v2.0/token"}

    def sign(self, claims: Optional[Dict[str, Any]] = None, key: Any = None, kid: Optional[str] = KID,
             service_url: Optional[str] = None, drop: tuple = ()) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": APP_ID, "exp": now + 3600, "nbf": now - 10,
                "serviceurl": service_url or self.service_url}
        body.update(claims or {})
        for name in drop:
            body.pop(name, None)
        headers = {"kid": kid} if kid else {}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers=headers)

    def texts(self) -> List[Any]:
        """What the connector received, simplified: text, card (its content) or 'typing'."""
        out = []
        for item in self.activities:
            body = item["body"]
            if body.get("type") == "typing":
                out.append("typing")
            elif body.get("attachments"):
                out.append(body["attachments"][0]["content"])
            else:
                out.append(body.get("text"))
        return out

    def _handler(self) -> type:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _json(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/openid":
                    self._json(200, {"issuer": ISSUER, "jwks_uri": f"{mock.url}/keys",
                                     "id_token_signing_alg_values_supported": ["RS256"]})
                elif self.path == "/keys":
                    with mock.lock:
                        mock.key_fetches += 1
                    self._json(200, {"keys": mock.jwks})
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == f"/{TENANT}/oauth2/v2.0/token":
                    form = parse_qs(raw.decode())
                    with mock.lock:
                        mock.token_requests.append(form)
                    if form.get("client_id") != [APP_ID] or form.get("client_secret") != [APP_PASSWORD]:
                        self._json(401, {"error": "invalid_client"})
                        return
                    self._json(200, {"token_type": "Bearer", "expires_in": 3599,
                                     "access_token": f"connector-token-{len(mock.token_requests)}"})
                    return
                prefix = "/teams/v3/conversations/"
                if self.path.startswith(prefix) and self.path.endswith("/activities"):
                    auth = self.headers.get("Authorization", "")
                    if not auth.startswith("Bearer connector-token-"):
                        self._json(401, {})
                        return
                    with mock.lock:
                        status = mock.fail_next.pop(0) if mock.fail_next else None
                        if status is None:
                            mock.activities.append({
                                "conversation": unquote(self.path[len(prefix):-len("/activities")]),
                                "auth": auth, "body": json.loads(raw)})
                    if status is not None:
                        self._json(status, {}, {"Retry-After": mock.retry_after} if mock.retry_after else None)
                    else:
                        self._json(201, {"id": uuid.uuid4().hex})
                    return
                self._json(404, {})

        return Handler
