"""Web chat page, its config, health, JSON 404/405 errors and the OpenAPI document."""
from __future__ import annotations

from backend.core.config import get_settings
from backend.services.knowledge import get_searcher

RASA_URL = "http://rasa.backend-tests.invalid:5005"  # = RASA_PUBLIC_URL set by conftest


def test_root_redirects_to_the_chat(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/chat/"


def test_chat_page_is_served(client):
    response = client.get("/chat/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Assistant Canon – libre-service</title>" in response.text


def test_chat_static_asset_is_served(client):
    response = client.get("/chat/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


def test_chat_config(client):
    response = client.get("/chat/config.json")
    assert response.status_code == 200
    assert response.json() == {"rasa_url": RASA_URL, "socket_path": "/socket.io/"}


def test_health(client):
    for path in ("/health", "/health/live"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ready_when_the_database_answers_and_the_index_is_loaded(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["knowledge_index"] == "ok"
    assert body["documents"] == get_searcher().build_info.count > 0


def test_not_ready_without_the_database(client, monkeypatch):
    from sqlalchemy import create_engine

    from backend.api.routes import health

    unreachable = create_engine("postgresql+psycopg://portal@127.0.0.1:1/portal?connect_timeout=2")
    monkeypatch.setattr(health, "get_engine", lambda: unreachable)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready" and response.json()["database"] == "unavailable"
    assert client.get("/health/live").status_code == 200  # liveness never looks at a dependency


def test_not_ready_without_the_knowledge_index(client, monkeypatch, tmp_path):
    from backend.services import knowledge

    monkeypatch.setattr(get_settings(), "knowledge_index_dir", tmp_path / "nothing-here")
    knowledge.reset_searcher()
    try:
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {"status": "not_ready", "database": "ok", "knowledge_index": "unavailable"}
    finally:
        monkeypatch.undo()
        knowledge.reset_searcher()
    assert client.get("/health/ready").status_code == 200  # loaded again once it is there


def test_unknown_route_is_json_404(client):
    response = client.get("/definitely/not/here")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Ressource introuvable."}


def test_unknown_route_in_english(client):
    response = client.get("/definitely/not/here", headers={"Accept-Language": "en"})
    assert response.json() == {"code": "not_found", "message": "Resource not found."}


def test_wrong_method_is_json_405(client):
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_openapi_lists_the_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    for path in ("/cases", "/cases/{number}", "/auth/token", "/knowledge/search", "/assets", "/users/me",
                 "/taxonomy", "/faults/classify", "/knowledge/deflections"):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/cases"])
    # Internal pages stay out of the schema.
    assert "/" not in paths and "/health" not in paths and "/kb/{number}" not in paths
    assert "Idempotency-Key" in [p["name"] for p in paths["/cases"]["post"].get("parameters", [])]


def test_startup_takes_what_it_loaded_out_of_the_garbage_collectors_walks(client):
    import gc

    # the embedding model and index were loaded by the lifespan, then frozen
    assert gc.get_freeze_count() > 100_000


def test_query_embeddings_run_on_onnx_with_the_configured_threads(client):
    from backend.core.config import get_settings
    from backend.services.knowledge import get_searcher

    # the lifespan loaded the searcher: one query per request gains nothing from a second thread
    encoder = get_searcher().encoder
    assert encoder.runtime == "onnx"
    assert encoder.threads == get_settings().knowledge_encoder_threads == 1


# --- the web chat's files: safe to embed only where configured -------------------------------------------------
def test_chat_files_carry_the_security_headers(client):
    for path in ("/chat/", "/chat/widget.js", "/chat/widget.css", "/chat/vendor/socket.io.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp
        assert "frame-ancestors 'self' http://localhost:8000 http://127.0.0.1:8000" in csp  # CHAT_ALLOWED_ORIGINS
        assert f"connect-src 'self' {RASA_URL} {RASA_URL.replace('http', 'ws')}" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_password_page_is_not_reachable_under_chat(client):
    assert client.get("/chat/password.html").status_code == 404
    assert client.get("/account/password").headers["x-frame-options"] == "DENY"


def test_chat_serves_only_plain_web_files(client):
    for path in ("/chat/..%2Fconfig.yml", "/chat/.hidden.js", "/chat/chat.py", "/chat/vendor/..%2F..%2Fcredentials.yml",
                 "/chat/missing.js"):
        assert client.get(path).status_code == 404, path


def test_cors_only_for_the_configured_portal_origins(client):
    allowed = client.options("/users/me", headers={"Origin": "http://localhost:8000",
                                                   "Access-Control-Request-Method": "GET",
                                                   "Access-Control-Request-Headers": "authorization"})
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:8000"
    assert "access-control-allow-credentials" not in allowed.headers
    foreign = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


def test_the_deployment_probes_answer(client):
    """The backend's probes in deploy/k8s/50-backend.yaml are routes that answer 200 on a ready backend."""
    from pathlib import Path

    import yaml

    manifest = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "50-backend.yaml"
    (deployment,) = [d for d in yaml.safe_load_all(manifest.read_text()) if d and d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert paths == {"/health/live", "/health/ready"}
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_a_database_outage_is_a_clean_503_asking_to_retry():
    """A cut database connection (PostgreSQL restarting) is answered 503 JSON with Retry-After, never a 500 page."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError

    from backend.core.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom():
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    answer = TestClient(app, raise_server_exceptions=False).get("/boom", headers={"Accept-Language": "en"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json() == {"code": "database_unavailable",
                             "message": "The portal is briefly unavailable. Please try again in a moment."}
