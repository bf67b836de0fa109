"""The new portal endpoints in the OpenAPI document, Idempotency-Key on every create endpoint, and the demo
seed covering every capability."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.models import (
    Consumable, Contact, Meter, MeterReading, Order, TrainingRequest, User, UserStatus,
)

CREATE_ENDPOINTS = [
    "/cases", "/requests", "/orders", "/orders/enquiries", "/training-requests", "/users/invitations", "/contacts",
    "/access-requests", "/assets/{reference}/contacts", "/assets/{reference}/meter-readings",
    "/assets/{reference}/meter-readings/query", "/cases/{number}/comments", "/cases/{number}/watchers",
    "/knowledge/deflections",
]


def test_openapi_lists_the_new_endpoints_with_idempotency_keys(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in CREATE_ENDPOINTS:
        parameters = [p["name"] for p in paths[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in parameters, path
        assert paths[path]["post"]["summary"], path
    for path, method in [("/users", "get"), ("/users/me/permissions", "get"), ("/users/me/profile", "patch"),
                         ("/users/me/password", "post"), ("/users/{user_id}/approve", "post"),
                         ("/users/{user_id}/reject", "post"), ("/users/{user_id}/upgrade", "post"),
                         ("/users/{user_id}/deactivate", "post"), ("/users/{user_id}/password-reset", "post"),
                         ("/auth/password-reset/confirm", "post"), ("/assets/{reference}/alias", "patch"),
                         ("/assets/{reference}/meters", "get"), ("/assets/{reference}/meters/{code}/history", "get"),
                         ("/orders/price", "post"), ("/assets/{reference}/orders", "get"),
                         ("/assets/{reference}/consumables", "get"), ("/orders/{number}", "get")]:
        assert method in paths[path], (path, method)
    asset_schema = paths["/assets/{reference}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert asset_schema["$ref"].endswith("/AssetDetailOut")


def test_demo_seed_covers_every_capability(db):
    pending = db.scalars(select(User).where(User.status == UserStatus.pending,
                                            User.email == "priya.pending@canon-uk-demo.example")).one()
    assert pending.origin == "access_request"
    assert db.scalars(select(User).where(User.full_name == "Alan Inactive_Stane")).one().status == UserStatus.inactive
    meter = db.scalars(select(Meter).where(Meter.integration_id == "77996101-77995625-112-GBAAP")).one()
    last = max(meter.readings, key=lambda r: r.read_at)
    assert (last.value, last.source) == (2380, "e-Maintenance (UGW)")
    values = {r.value for r in db.scalars(select(MeterReading).join(Meter).where(Meter.code.in_(["112", "113", "122", "123"])))}
    assert {6586, 153665, 9792, 143312} <= values
    staples = db.scalars(select(Consumable).where(Consumable.part_number == "0250A013")).one()
    assert (staples.description, staples.category, staples.device_model) == (
        "Cartridge-D3-NONE-", "Staples", "Canon iR-ADV C5030i")
    assert {c.device_model for c in db.scalars(select(Consumable))} >= {
        "Canon iR-ADV C5560i", "Canon iR-ADV C5030i", "Canon iR-ADV C5535i"}
    assert db.scalar(select(func.count()).select_from(Order).where(Order.number <= "ORD0001233")) == 7
    assert db.scalar(select(func.count()).select_from(TrainingRequest)) >= 1
    assert db.scalar(select(func.count()).select_from(Contact)) >= 2


JSON_ENDPOINTS = [
    ("post", "/requests"), ("post", "/orders"), ("post", "/orders/price"), ("post", "/orders/enquiries"),
    ("post", "/training-requests"), ("post", "/users/invitations"), ("post", "/contacts"), ("post", "/access-requests"),
    ("post", "/assets/77996101/contacts"), ("post", "/assets/77996101/meter-readings"),
    ("post", "/assets/77996101/meter-readings/query"), ("post", "/cases/CS0032500/comments"),
    ("post", "/cases/CS0032500/watchers"), ("patch", "/assets/77996101/alias"), ("patch", "/users/me/profile"),
    ("post", "/users/me/password"), ("post", "/auth/password-reset/confirm"), ("post", "/auth/invitations/accept"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"null", b"{not json", b'{"unexpected": 1}', b"12"])
def test_junk_bodies_are_422_never_500(client, admin_headers, method, path, payload):
    response = client.request(method.upper(), path, content=payload,
                              headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 422, (path, payload, response.text)
    assert response.json()["code"] == "validation_error"
