"""Meter readings ("Relevés compteur"): last readings, history, atomic submissions, queries, corrections.

A submission is checked and written in one transaction that holds the meters' rows (a write lock on both engines),
so two concurrent submissions are checked one after the other; each reading is stamped when it is written. A value
that rises unusually fast is refused unless the line says the user confirmed it, and one no device can print is
refused outright. A wrong reading is voided by an administrator (with a reason, recorded) rather than edited.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import Asset, Meter, MeterCorrection, MeterReading, MeterReadingSubmission, Role, User
from backend.permissions import forbidden
from backend.schemas import (
    Label, MeterCorrectionCreate, MeterCorrectionOut, MeterOut, MeterReadingOut, MeterReadingsCreate,
    MeterSubmissionOut, SubmittedReading,
)

PORTAL_SOURCE = "Portail"
CORRECTION_SOURCE = "Correction"
# A rise is unusual (confirmed by the user first) when it exceeds JUMP_MIN and reaches JUMP_FACTOR times the last
# reading, or exceeds max(JUMP_ABSOLUTE, JUMP_PER_DAY × days since the last one): the assistant's rule
# (actions/meters.py), enforced here for every client.
JUMP_MIN, JUMP_FACTOR, JUMP_ABSOLUTE, JUMP_PER_DAY = 10_000, 10, 100_000, 3_000
# No device prints more than this per day (a 150 pages-per-minute production press running day and night): a larger
# rise is a typing error even when "confirmed".
MAX_PAGES_PER_DAY = 216_000
EMAINTENANCE_SOURCE = "e-Maintenance (UGW)"
# The seed's meter names, by code.
METER_NAMES = {
    "112": ("112 N&B Grand", "112 B&W Large"),
    "113": ("113 N&B Petit", "113 B&W Small"),
    "122": ("122 Couleur Grand", "122 Colour Large"),
    "123": ("123 Couleur Petit", "123 Colour Small"),
}


def _valid(meter: Meter):
    return select(MeterReading).where(MeterReading.meter_id == meter.id, MeterReading.voided_at.is_(None))


def _last(session: Session, meter: Meter) -> MeterReading | None:
    return session.scalars(_valid(meter).order_by(MeterReading.read_at.desc(), MeterReading.id.desc())
                           .limit(1)).first()


def _days_since(last: MeterReading, now: datetime) -> int:
    return max(1, (now - last.read_at).days)


def unusual_rise(last: MeterReading | None, value: int, now: datetime) -> bool:
    if last is None or value - last.value <= JUMP_MIN:
        return False
    days = _days_since(last, now)
    return value >= JUMP_FACTOR * max(last.value, 1) or value - last.value > max(JUMP_ABSOLUTE, JUMP_PER_DAY * days)


def impossible_rise(last: MeterReading | None, value: int, now: datetime) -> bool:
    return last is not None and value - last.value > max(JUMP_ABSOLUTE, MAX_PAGES_PER_DAY * _days_since(last, now))


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
    rows = session.scalars(_valid(meter).order_by(MeterReading.read_at.desc(), MeterReading.id.desc()))
    return [MeterReadingOut(id=r.id, value=r.value, read_at=r.read_at, source=r.source,
                            submitted_by=r.submitted_by.full_name if r.submitted_by else None) for r in rows]


def _date(value: datetime) -> str:
    return value.date().isoformat()


def _lock(session: Session, meters: list[Meter]) -> None:
    """Holds the meters' rows until the transaction ends: a write (the same on SQLite, which has no row locks but lets
    one writer in at a time, and on PostgreSQL, where it locks the rows as SELECT ... FOR UPDATE would). What is read
    afterwards in the transaction is what the next submission will see."""
    session.execute(update(Meter).where(Meter.id.in_([m.id for m in meters])).values(code=Meter.code)
                    .execution_options(synchronize_session=False))


def _check(meter: Meter, last: MeterReading | None, value: int, confirmed: bool, now: datetime) -> None:
    if last is not None and value < last.value:
        raise ApiError(
            422, "reading_lower_than_last",
            f"Le relevé {value} du compteur {meter.name_fr} est inférieur au dernier relevé enregistré : "
            f"{last.value} le {_date(last.read_at)} ({last.source}).",
            f"Reading {value} for meter {meter.name_en} is lower than the last recorded reading: "
            f"{last.value} on {_date(last.read_at)} ({last.source}).",
            field="readings", meter=meter.code, last_reading=last.value, last_reading_date=_date(last.read_at),
        )
    if impossible_rise(last, value, now):
        raise ApiError(
            422, "impossible_reading",
            f"Le relevé {value} du compteur {meter.name_fr} est impossible : {value - last.value} pages de plus "
            f"que le dernier relevé ({last.value} le {_date(last.read_at)}). Vérifiez la valeur.",
            f"Reading {value} for meter {meter.name_en} is impossible: {value - last.value} pages more than the "
            f"last reading ({last.value} on {_date(last.read_at)}). Please check the value.",
            field="readings", meter=meter.code, last_reading=last.value, last_reading_date=_date(last.read_at),
        )
    if not confirmed and unusual_rise(last, value, now):
        raise ApiError(
            422, "reading_needs_confirmation",
            f"Le relevé {value} du compteur {meter.name_fr} est très supérieur au dernier ({last.value} le "
            f"{_date(last.read_at)}) : confirmez-le (« confirmed »: true) s'il est juste.",
            f"Reading {value} for meter {meter.name_en} is far above the last one ({last.value} on "
            f"{_date(last.read_at)}): confirm it (\"confirmed\": true) if it is right.",
            field="readings", meter=meter.code, last_reading=last.value, last_reading_date=_date(last.read_at),
        )


def submit(session: Session, user: User, asset: Asset, data: MeterReadingsCreate, lang: str) -> MeterSubmissionOut:
    """All readings are checked before any is written: one bad line refuses the whole submission. The checks run
    on the meters' rows locked, and the readings are stamped after them."""
    codes = [line.code.strip() for line in data.readings]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ApiError(422, "duplicate_meter", f"Compteur présent plusieurs fois : {', '.join(duplicates)}.",
                       f"Meter given more than once: {', '.join(duplicates)}.", field="readings")
    lines = [(get_meter(session, asset, line.code), line) for line in data.readings]
    _lock(session, [meter for meter, _ in lines])
    now = datetime.now(UTC)
    for meter, line in lines:
        _check(meter, _last(session, meter), line.value, line.confirmed, now)
    submission = MeterReadingSubmission(asset_id=asset.id, submitted_by_id=user.id, created_at=now)
    session.add(submission)
    session.flush()
    out = []
    for meter, line in lines:
        session.add(MeterReading(meter_id=meter.id, value=line.value, read_at=now, source=PORTAL_SOURCE,
                                 submitted_by_id=user.id, submission_id=submission.id))
        out.append(SubmittedReading(code=meter.code, name=meter.name_fr if lang == "fr" else meter.name_en,
                                    value=line.value, read_at=now, source=PORTAL_SOURCE,
                                    integration_id=meter.integration_id))
    session.flush()
    return MeterSubmissionOut(id=submission.id, asset_number=asset.asset_number, readings=out)


# --- corrections (administrators) ------------------------------------------------------------------------------

def correction_out(row: MeterCorrection) -> MeterCorrectionOut:
    return MeterCorrectionOut(id=row.id, meter=row.meter.code, reading_id=row.reading_id, old_value=row.old_value,
                              new_value=row.new_value, reason=row.reason, corrected_by=row.corrected_by.full_name,
                              created_at=row.created_at)


def correct(session: Session, admin: User, asset: Asset, code: str, data: MeterCorrectionCreate) -> MeterCorrectionOut:
    """Voids the meter's last reading (a wrong value) and, when given, records the right one in its place; the
    correction (who, when, why, old and new value) is kept. Only an administrator of the account corrects."""
    if admin.role != Role.admin:
        raise forbidden()
    meter = get_meter(session, asset, code)
    _lock(session, [meter])
    last = _last(session, meter)
    if last is None or last.id != data.reading_id:
        raise ApiError(409, "not_last_reading",
                       "Seul le dernier relevé du compteur peut être corrigé.",
                       "Only the meter's last reading can be corrected.", field="reading_id")
    now = datetime.now(UTC)
    last.voided_at = now
    session.flush()
    replacement = None
    if data.value is not None:
        previous = _last(session, meter)
        _check(meter, previous, data.value, True, now)
        replacement = MeterReading(meter_id=meter.id, value=data.value, read_at=last.read_at,
                                   source=CORRECTION_SOURCE, submitted_by_id=admin.id)
        session.add(replacement)
        session.flush()
    row = MeterCorrection(meter_id=meter.id, reading_id=last.id, replacement_id=replacement.id if replacement else None,
                          old_value=last.value, new_value=data.value, reason=data.reason.strip(),
                          corrected_by_id=admin.id, created_at=now)
    session.add(row)
    session.flush()
    return correction_out(row)


def corrections(session: Session, admin: User, asset: Asset, code: str) -> list[MeterCorrectionOut]:
    if admin.role != Role.admin:
        raise forbidden()
    meter = get_meter(session, asset, code)
    rows = session.scalars(select(MeterCorrection).where(MeterCorrection.meter_id == meter.id)
                           .order_by(MeterCorrection.id.desc()))
    return [correction_out(r) for r in rows]
