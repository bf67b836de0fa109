"""Meter readings ("Relevés compteur"): last readings, history, atomic submissions, queries."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import Asset, Meter, MeterReading, MeterReadingSubmission, User
from backend.schemas import Label, MeterOut, MeterReadingOut, MeterReadingsCreate, MeterSubmissionOut, SubmittedReading

PORTAL_SOURCE = "Portail"
EMAINTENANCE_SOURCE = "e-Maintenance (UGW)"
# The seed's meter names, by code.
METER_NAMES = {
    "112": ("112 N&B Grand", "112 B&W Large"),
    "113": ("113 N&B Petit", "113 B&W Small"),
    "122": ("122 Couleur Grand", "122 Colour Large"),
    "123": ("123 Couleur Petit", "123 Colour Small"),
}


def _last(session: Session, meter: Meter) -> MeterReading | None:
    return session.scalars(select(MeterReading).where(MeterReading.meter_id == meter.id)
                           .order_by(MeterReading.read_at.desc(), MeterReading.id.desc()).limit(1)).first()


def meter_out(session: Session, meter: Meter, lang: str) -> MeterOut:
    last = _last(session, meter)
    return MeterOut(code=meter.code, name=meter.name_fr if lang == "fr" else meter.name_en,
                    label=Label(fr=meter.name_fr, en=meter.name_en), integration_id=meter.integration_id,
                    last_reading=last.value if last else None, last_reading_date=last.read_at if last else None,
                    last_reading_source=last.source if last else None)


def get_meter(session: Session, asset: Asset, code: str) -> Meter:
    meter = session.scalars(select(Meter).where(Meter.asset_id == asset.id, Meter.code == code.strip())).first()
    if meter is None:
        raise ApiError(422, "unknown_meter", f"L'appareil {asset.asset_number} n'a pas de compteur « {code} ».",
                       f"Device {asset.asset_number} has no meter '{code}'.", field="code")
    return meter


def history(session: Session, asset: Asset, code: str) -> list[MeterReadingOut]:
    meter = session.scalars(select(Meter).where(Meter.asset_id == asset.id, Meter.code == code.strip())).first()
    if meter is None:
        raise not_found(f"Compteur {code}", f"Meter {code}")
    rows = session.scalars(select(MeterReading).where(MeterReading.meter_id == meter.id)
                           .order_by(MeterReading.read_at.desc(), MeterReading.id.desc()))
    return [MeterReadingOut(value=r.value, read_at=r.read_at, source=r.source,
                            submitted_by=r.submitted_by.full_name if r.submitted_by else None) for r in rows]


def _date(value: datetime) -> str:
    return value.date().isoformat()


def submit(session: Session, user: User, asset: Asset, data: MeterReadingsCreate, lang: str) -> MeterSubmissionOut:
    """All readings are checked before any is written: one bad line refuses the whole submission."""
    codes = [line.code.strip() for line in data.readings]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ApiError(422, "duplicate_meter", f"Compteur présent plusieurs fois : {', '.join(duplicates)}.",
                       f"Meter given more than once: {', '.join(duplicates)}.", field="readings")
    now = datetime.now(UTC)
    checked: list[tuple[Meter, int]] = []
    for line in data.readings:
        meter = get_meter(session, asset, line.code)
        last = _last(session, meter)
        if last is not None and line.value < last.value:
            raise ApiError(
                422, "reading_lower_than_last",
                f"Le relevé {line.value} du compteur {meter.name_fr} est inférieur au dernier relevé enregistré : "
                f"{last.value} le {_date(last.read_at)} ({last.source}).",
                f"Reading {line.value} for meter {meter.name_en} is lower than the last recorded reading: "
                f"{last.value} on {_date(last.read_at)} ({last.source}).",
                field="readings", meter=meter.code, last_reading=last.value, last_reading_date=_date(last.read_at),
            )
        checked.append((meter, line.value))
    submission = MeterReadingSubmission(asset_id=asset.id, submitted_by_id=user.id, created_at=now)
    session.add(submission)
    session.flush()
    out = []
    for meter, value in checked:
        session.add(MeterReading(meter_id=meter.id, value=value, read_at=now, source=PORTAL_SOURCE,
                                 submitted_by_id=user.id, submission_id=submission.id))
        out.append(SubmittedReading(code=meter.code, name=meter.name_fr if lang == "fr" else meter.name_en,
                                    value=value, read_at=now, source=PORTAL_SOURCE,
                                    integration_id=meter.integration_id))
    session.flush()
    return MeterSubmissionOut(id=submission.id, asset_number=asset.asset_number, readings=out)
