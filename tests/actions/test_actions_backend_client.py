"""BackendClient: error translation, headers, idempotency keys and the taxonomy cache."""
from __future__ import annotations

import httpx
import pytest

import actions.backend_client as backend_client
from actions.backend_client import (
    BackendClient,
    BackendRejected,
    BackendUnavailable,
    NotAuthenticated,
    backend_url,
    public_backend_url,
)
from actions_fakes import BASE_URL, TOKEN, FakePortal

def client(portal: FakePortal, token: str = TOKEN, lang: str = "fr") -> BackendClient:
    return BackendClient(token=token, lang=lang, base_url=BASE_URL, transport=portal.transport)


@pytest.mark.asyncio
async def test_401_raises_not_authenticated(portal: FakePortal) -> None:
    with pytest.raises(NotAuthenticated):
        await client(portal, token="expired").assets()


@pytest.mark.asyncio
async def test_empty_token_is_sent_and_refused(portal: FakePortal) -> None:
    with pytest.raises(NotAuthenticated):
        await client(portal, token="").me()
    assert portal.requests[0]["headers"]["authorization"].strip() == "Bearer"


@pytest.mark.asyncio
async def test_500_raises_backend_unavailable(portal: FakePortal) -> None:
    portal.fail(500)
    with pytest.raises(BackendUnavailable):
        await client(portal).assets()


@pytest.mark.asyncio
async def test_503_on_one_route_only(portal: FakePortal) -> None:
    portal.fail(503, "POST", "/faults/classify")
    assert await client(portal).assets()
    with pytest.raises(BackendUnavailable):
        await client(portal).classify_fault("bourrage", "fr")


@pytest.mark.asyncio
async def test_connection_error_raises_backend_unavailable(portal: FakePortal) -> None:
    portal.fail("down")
    with pytest.raises(BackendUnavailable):
        await client(portal).me()


@pytest.mark.asyncio
async def test_timeout_raises_backend_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    with pytest.raises(BackendUnavailable):
        await BackendClient("t", base_url=BASE_URL, transport=httpx.MockTransport(handler)).assets()


@pytest.mark.asyncio
async def test_422_raises_backend_rejected_with_code_and_message(portal: FakePortal) -> None:
    portal.fail((422, {"code": "unknown_category", "message": "Type de panne inconnu : x."}), "POST", "/cases")
    with pytest.raises(BackendRejected) as info:
        await client(portal).create_case({"category": "x"}, idempotency_key="k1")
    assert (info.value.status, info.value.code, info.value.message) == (
        422, "unknown_category", "Type de panne inconnu : x.")
    assert not isinstance(info.value, BackendUnavailable)


@pytest.mark.asyncio
async def test_4xx_without_json_body_is_still_rejected() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(409, text="<html>conflict</html>"))
    with pytest.raises(BackendRejected) as info:
        await BackendClient("t", base_url=BASE_URL, transport=transport).create_case({}, idempotency_key="k")
    assert (info.value.status, info.value.code, info.value.message) == (409, "error", "")


@pytest.mark.asyncio
async def test_authorization_and_accept_language_headers(portal: FakePortal) -> None:
    await client(portal, lang="en").assets()
    headers = portal.requests[0]["headers"]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept-language"] == "en"
    assert headers["x-display-language"] == "en"  # the backend's labels follow the conversation, not the profile
    assert "idempotency-key" not in headers  # reads carry no key


@pytest.mark.asyncio
async def test_create_case_sends_idempotency_key_and_body(portal: FakePortal) -> None:
    payload = {"category": "paper_jam", "subcategory": "drawer_tray", "description": "bourrage tiroir 2"}
    case = await client(portal).create_case(payload, idempotency_key="key-123")
    (request,) = portal.calls("POST", "/cases")
    assert request["headers"]["idempotency-key"] == "key-123"
    assert request["json"] == payload
    assert case["number"].startswith("CS")


@pytest.mark.asyncio
async def test_record_deflection_sends_idempotency_key(portal: FakePortal) -> None:
    await client(portal).record_deflection({"kb_articles_shown": ["KB0010"]}, idempotency_key="key-9")
    (request,) = portal.calls("POST", "/knowledge/deflections")
    assert request["headers"]["idempotency-key"] == "key-9"
    assert request["json"] == {"kb_articles_shown": ["KB0010"]}


@pytest.mark.asyncio
async def test_taxonomy_is_cached_across_clients(portal: FakePortal) -> None:
    first = await client(portal).taxonomy()
    second = await client(portal, lang="en").taxonomy()
    assert first == second
    assert len(portal.calls("GET", "/taxonomy")) == 1


@pytest.mark.asyncio
async def test_taxonomy_is_fetched_again_after_expiry(portal: FakePortal) -> None:
    await client(portal).taxonomy()
    backend_client._taxonomy_cache["expires"] = 0.0
    await client(portal).taxonomy()
    assert len(portal.calls("GET", "/taxonomy")) == 2


@pytest.mark.asyncio
async def test_failed_taxonomy_is_not_cached(portal: FakePortal) -> None:
    portal.fail("down", "GET", "/taxonomy")
    with pytest.raises(BackendUnavailable):
        await client(portal).taxonomy()
    portal.recover()
    assert [c["code"] for c in await client(portal).taxonomy()][:1] == ["malfunction"]


@pytest.mark.asyncio
async def test_search_knowledge_params(portal: FakePortal) -> None:
    await client(portal).search_knowledge("bourrage", "fr", asset="77996101", tag="fault.paper_jam.drawer_tray")
    await client(portal).search_knowledge("bourrage", "en")
    with_all, bare = portal.calls("GET", "/knowledge/search")
    assert with_all["params"] == {"q": "bourrage", "lang": "fr", "limit": "3", "asset": "77996101",
                                  "tag": "fault.paper_jam.drawer_tray"}
    assert bare["params"] == {"q": "bourrage", "lang": "en", "limit": "3"}


@pytest.mark.asyncio
async def test_classify_sends_category_only_when_given(portal: FakePortal) -> None:
    await client(portal).classify_fault("dans le tiroir", "fr", "paper_jam")
    await client(portal).classify_fault("bourrage", "en")
    with_cat, without = portal.calls("POST", "/faults/classify")
    assert with_cat["json"] == {"text": "dans le tiroir", "lang": "fr", "category": "paper_jam"}
    assert without["json"] == {"text": "bourrage", "lang": "en"}


@pytest.mark.asyncio
async def test_resolve_assets_posts_text(portal: FakePortal) -> None:
    result = await client(portal).resolve_assets("c'est la WHJ01481")
    assert portal.calls("POST", "/assets/resolve")[0]["json"] == {"text": "c'est la WHJ01481"}
    assert [a["asset_number"] for a in result["matches"]] == ["77996101"]


@pytest.mark.asyncio
async def test_a_serial_said_character_by_character_is_sent_as_one(portal: FakePortal) -> None:
    result = await client(portal).resolve_assets("le numéro de série c'est W H J zéro un quatre huit un voilà")
    assert portal.calls("POST", "/assets/resolve")[0]["json"] == {"text": "le numéro de série c'est WHJ01481 voilà"}
    assert [a["asset_number"] for a in result["matches"]] == ["77996101"]


def test_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_URL", "http://backend:8000/")
    monkeypatch.delenv("BACKEND_PUBLIC_URL", raising=False)
    assert backend_url() == "http://backend:8000"
    assert public_backend_url() == "http://backend:8000"
    assert BackendClient("t").base_url == "http://backend:8000"
    monkeypatch.setenv("BACKEND_PUBLIC_URL", "https://portal.example/")
    assert public_backend_url() == "https://portal.example"


REAL_DEFAULT_TRANSPORT = backend_client.default_transport  # captured before the fixtures replace it


def test_the_action_server_builds_one_transport_for_all_its_calls() -> None:
    assert REAL_DEFAULT_TRANSPORT() is REAL_DEFAULT_TRANSPORT()  # one SSL context and connection pool


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests = 0
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, json=[{"asset_number": "77996101"}])

    async def aclose(self) -> None:
        self.closed += 1


@pytest.mark.asyncio
async def test_calls_share_one_client_and_never_close_the_pooled_connections() -> None:
    transport = CountingTransport()
    first = BackendClient(token=TOKEN, base_url=BASE_URL, transport=transport)
    second = BackendClient(token="other", lang="en", base_url=BASE_URL, transport=transport)
    assert (await first.assets())[0]["asset_number"] == "77996101"
    await second.assets()
    await first.assets()
    assert transport.requests == 3
    assert transport.closed == 0
    assert backend_client.shared_client(transport) is backend_client.shared_client(transport)


def test_http_client_requests_are_not_logged_one_by_one_and_httpcore_finds_sniffio():
    import importlib.util
    import logging

    # One INFO line per backend call cost 8 % of the action server's CPU; failures are still logged by the client.
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert backend_client.log.getEffectiveLevel() <= logging.ERROR
    # Without sniffio, httpcore retries a failed import on every lock it creates (54 us each instead of 1).
    assert importlib.util.find_spec("sniffio") is not None
