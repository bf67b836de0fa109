"""A bounded schemathesis run over the whole API (issue 19 §3): generated requests, valid and not, must never get a
500, and every answer must be declared by its route (status code, content type, body schema).

It runs as the administrator of an account of its own (what it creates or changes touches no other test's data) and
last (its failed logins count against the test client's address). Bounded: MAX_EXAMPLES per operation, derandomized
(the same requests every run). Skipped when schemathesis is not installed (requirements/app.txt has it)."""
from __future__ import annotations

import uuid

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from backend.core.db import get_session_factory  # noqa: E402
from backend.core.security import create_access_token, hash_password  # noqa: E402
from backend.main import app  # noqa: E402
from backend.models import Account, Asset, AssetContact, Meter, MeterReading, Role, User  # noqa: E402

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def contract_admin(seeded) -> int:
    """The administrator (and a device with meters) of an account only this run uses."""
    tag = uuid.uuid4().hex[:8]
    with get_session_factory()() as session:
        account = Account(name=f"CONTRACT {tag}", street="1 Test St", city="Testville", postcode="T1", country="UK")
        admin = User(email=f"contract-{tag}@contract.example", full_name="Contract Admin", role=Role.admin,
                     password_hash=hash_password("Contract-pass-1"), account=account)
        asset = Asset(account=account, asset_number=str(80_000_000 + uuid.uuid4().int % 9_999_999),
                      serial=f"CT{tag}", model="Canon iR-ADV C5030i")
        asset.contacts.append(AssetContact(user=admin))
        meter = Meter(code="112", name_fr="112 N&B Grand", name_en="112 B&W Large", integration_id=f"ct-{tag}-112")
        meter.readings.append(MeterReading(value=1000, source="e-Maintenance (UGW)"))
        asset.meters.append(meter)
        session.add_all([account, admin, asset])
        session.commit()
        return admin.id


def _bearer(user_id: int) -> dict[str, str]:
    """A fresh token of the current version (the run may log the user out or change what revokes tokens)."""
    with get_session_factory()() as session:
        user = session.get(User, user_id)
        return {"Authorization": f"Bearer {create_access_token(user.id, user.account_id, user.token_version)}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_contract(case, contract_admin):
    case.call_and_validate(headers=_bearer(contract_admin), checks=CHECKS)

