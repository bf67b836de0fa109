"""IdentityVerifier: the backend is the only judge of a portal token, asked on every message unless a cache time
is configured (IDENTITY_CACHE_SECONDS)."""
from __future__ import annotations

import httpx
import pytest

from bot.identity import IdentityVerifier, PortalUnavailable
from bot_fakes import BACKEND, FakeUsersBackend, user_out

pytestmark = pytest.mark.asyncio

PROFILE = {"id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal",
           "role": "user", "language": "en", "account": "CANON UK DEMO", "account_id": 1, "token_version": 0}


async def test_valid_token_gives_the_profile(verifier: IdentityVerifier, users_backend: FakeUsersBackend):
    assert await verifier.verify("good-token") == PROFILE
    (request,) = users_backend.requests
    assert str(request.url) == f"{BACKEND}/users/me"
    assert request.headers["authorization"] == "Bearer good-token"


async def test_profile_has_only_the_needed_fields(verifier: IdentityVerifier):
    profile = await verifier.verify("good-token")
    assert "phone" not in profile and "status" not in profile
    assert isinstance(profile["account"], str)


async def test_invalid_token_gives_none(verifier: IdentityVerifier, users_backend: FakeUsersBackend):
    assert await verifier.verify("forged") is None
    assert len(users_backend.requests) == 1


@pytest.mark.parametrize("token", [None, "", 12345, {"token": "good-token"}])
async def test_missing_token_gives_none_without_asking(verifier, users_backend: FakeUsersBackend, token):
    assert await verifier.verify(token) is None
    assert users_backend.requests == []


async def test_backend_down_raises_portal_unavailable(verifier, users_backend: FakeUsersBackend):
    users_backend.state = "down"
    with pytest.raises(PortalUnavailable):
        await verifier.verify("good-token")


@pytest.mark.parametrize("status", [500, 502, 403])
async def test_unexpected_status_raises_portal_unavailable(verifier, users_backend: FakeUsersBackend, status):
    users_backend.state = status
    with pytest.raises(PortalUnavailable):
        await verifier.verify("good-token")


async def test_failure_is_not_cached(verifier, users_backend: FakeUsersBackend):
    users_backend.state = "down"
    with pytest.raises(PortalUnavailable):
        await verifier.verify("good-token")
    users_backend.state = None
    assert (await verifier.verify("good-token"))["id"] == 2


@pytest.fixture
def caching(users_backend: FakeUsersBackend) -> IdentityVerifier:
    return IdentityVerifier(backend_url=BACKEND, ttl=30.0, transport=users_backend.transport)


async def test_by_default_every_message_asks_the_backend(verifier, users_backend: FakeUsersBackend, monkeypatch):
    monkeypatch.delenv("IDENTITY_CACHE_SECONDS", raising=False)
    fresh = IdentityVerifier(backend_url=BACKEND, transport=users_backend.transport)
    assert await fresh.verify("good-token") == PROFILE
    users_backend.users.clear()  # deactivated, or the password changed: the very next message is refused
    assert await fresh.verify("good-token") is None
    assert len(users_backend.requests) == 2
    monkeypatch.setenv("IDENTITY_CACHE_SECONDS", "5")
    assert IdentityVerifier(backend_url=BACKEND, transport=users_backend.transport).ttl == 5.0


async def test_cached_within_ttl(caching, users_backend: FakeUsersBackend):
    verifier = caching
    first = await verifier.verify("good-token")
    second = await verifier.verify("good-token")
    assert first == second == PROFILE
    assert len(users_backend.requests) == 1


async def test_refusal_is_cached_too(caching, users_backend: FakeUsersBackend):
    verifier = caching
    assert await verifier.verify("forged") is None
    assert await verifier.verify("forged") is None
    assert len(users_backend.requests) == 1


async def test_each_token_is_checked_separately(verifier, users_backend: FakeUsersBackend):
    users_backend.users["other-token"] = user_out(user_id=9, language="fr")
    assert (await verifier.verify("good-token"))["id"] == 2
    assert (await verifier.verify("other-token"))["id"] == 9
    assert len(users_backend.requests) == 2


async def test_expired_cache_asks_again(users_backend: FakeUsersBackend):
    verifier = IdentityVerifier(backend_url=BACKEND, ttl=0.0, transport=users_backend.transport)
    await verifier.verify("good-token")
    users_backend.users.clear()  # the user was deactivated meanwhile
    assert await verifier.verify("good-token") is None
    assert len(users_backend.requests) == 2


async def test_raw_tokens_are_not_cache_keys(caching):
    verifier = caching
    await verifier.verify("good-token")
    assert verifier._cache
    assert "good-token" not in verifier._cache
    assert all(len(key) == 64 for key in verifier._cache)


async def test_backend_url_from_environment(monkeypatch: pytest.MonkeyPatch, users_backend: FakeUsersBackend):
    monkeypatch.setenv("BACKEND_URL", "http://backend:9000/")
    verifier = IdentityVerifier(transport=users_backend.transport)
    assert verifier.backend_url == "http://backend:9000"
    await verifier.verify("good-token")
    assert str(users_backend.requests[0].url) == "http://backend:9000/users/me"


async def test_timeout_raises_portal_unavailable():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(PortalUnavailable):
        await IdentityVerifier(BACKEND, transport=httpx.MockTransport(slow)).verify("t")


async def test_checks_reuse_one_open_connection_pool(users_backend: FakeUsersBackend, monkeypatch):
    closed = []

    async def record_close() -> None:
        closed.append(True)

    monkeypatch.setattr(users_backend.transport, "aclose", record_close, raising=False)
    verifier = IdentityVerifier(backend_url=BACKEND, transport=users_backend.transport, ttl=0)
    for _ in range(3):
        assert (await verifier.verify("good-token"))["id"] == PROFILE["id"]
    assert len(users_backend.requests) == 3
    assert closed == []  # an `async with` client per check used to close the pool every time
