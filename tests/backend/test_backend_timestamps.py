"""Issue 19 §3: timestamps are stored and returned time-zone aware (UTC) on SQLite as on PostgreSQL. Before the fix
SQLite gave naive datetimes back and the API answered created_at without an offset."""
from __future__ import annotations

import uuid
from datetime import UTC as UTC_
def _aware(value: str) -> bool:
    from datetime import datetime, timedelta
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


def test_timestamps_in_answers_carry_their_utc_offset(client, admin_headers):
    created = client.post("/cases", headers=admin_headers, json={
        "category": "general_enquiry", "subcategory": "general_enquiry", "description": "Horodatage"}).json()
    assert _aware(created["created_at"]) and _aware(created["updated_at"])
    assert all(_aware(a["created_at"]) for a in created["activities"])
    listed = client.get("/cases", params={"limit": 5}, headers=admin_headers).json()
    assert all(_aware(c["created_at"]) for c in listed)
    assert all(_aware(u["created_at"]) for u in client.get("/users", headers=admin_headers).json())
    history = client.get("/assets/WHJ01481/meters/112/history", headers=admin_headers).json()
    assert history and all(_aware(r["read_at"]) for r in history)


def test_times_are_stored_and_read_back_in_utc(db):
    from datetime import datetime, timedelta, timezone

    from backend.models import Throttle
    paris = timezone(timedelta(hours=1))
    key = f"test:{uuid.uuid4().hex}"
    db.add(Throttle(key=key, count=1, window_start=datetime(2026, 1, 1, 13, 0, tzinfo=paris),
                    blocked_until=datetime(2026, 1, 1, 12, 30)))  # naive: taken as UTC
    db.commit()
    db.expire_all()
    row = db.get(Throttle, key)
    assert row.window_start == datetime(2026, 1, 1, 12, 0, tzinfo=UTC_)
    assert row.window_start.tzinfo is not None and row.blocked_until.utcoffset() == timedelta(0)
    assert row.blocked_until > row.window_start  # compared as times, not as text
