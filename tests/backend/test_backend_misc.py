"""Web chat page, its config, health, JSON 404/405 errors and the OpenAPI document."""
from __future__ import annotations

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
    response = client.get("/chat/chat.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


def test_chat_config(client):
    response = client.get("/chat/config.json")
    assert response.status_code == 200
    assert response.json() == {"rasa_url": RASA_URL, "socket_path": "/socket.io/"}


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


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
