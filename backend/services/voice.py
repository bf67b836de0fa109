"""Voice access for the phone assistant: the user's voice PIN, its verification by the voice channel, the lock
after too many wrong PINs, and the audit of all of it.

The caller's number is only a hint of who is calling: it picks the user (the one active user whose profile phone
is that number, else the one whose profile phone the caller typed), and only the right PIN verifies them. A PIN is
stored as an argon2 hash (the password hasher). `voice_max_pin_attempts` wrong PINs in a row lock the user's voice
access for `voice_lock_minutes`; a PIN change (which needs the current password) lifts the lock. Every PIN change,
failed verification and lock is written to `voice_audit`; a success resets the count.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.config import get_settings
from backend.core.errors import ApiError
from backend.core.security import hash_password, verify_password
from backend.models import KnowledgeArticle, OutboundMessage, User, UserStatus, VoiceAuditEvent, VoicePin

PIN_PATTERN = re.compile(r"[0-9]{6}")
# Audit events
PIN_SET, PIN_CHANGED = "pin_set", "pin_changed"
WRONG_PIN, UNKNOWN_CALLER, NO_PIN, LOCKED, REFUSED_LOCKED = (
    "wrong_pin", "unknown_caller", "no_pin", "locked", "refused_locked")


def normalise_phone(number: str) -> str:
    """A phone number as digits only, with the country code ("+44 20 7946 0001" and "+442079460001" are the
    same; a French "04 72 00 00 00" is "33472000000")."""
    digits = re.sub(r"\D", "", number or "")
    if number.strip().startswith("00"):
        digits = digits[2:]
    elif not number.strip().startswith("+") and digits.startswith("0") and len(digits) == 10:
        digits = "33" + digits[1:]  # a national French number as the portal's French users type it
    return digits


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive datetimes back


def trivial_pin(pin: str) -> bool:
    """A PIN anyone would try first: one digit repeated, a run up or down (123456, 654321, 901234), or two digits
    alternating (121212)."""
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    return len(set(pin)) == 1 or steps in ({1}, {9}) or (len(set(pin)) == 2 and pin[:2] * 3 == pin)


def audit(session: Session, event: str, user_id: int | None, caller: str = "") -> None:
    session.add(VoiceAuditEvent(event=event, user_id=user_id, caller=(caller or "")[:50]))


def pin_of(session: Session, user_id: int) -> VoicePin | None:
    return session.get(VoicePin, user_id)


def set_pin(session: Session, user: User, current_password: str, pin: str) -> None:
    """Sets or changes the user's voice PIN (the current password proves it is them); lifts a lock."""
    if not verify_password(current_password, user.password_hash):
        raise ApiError(400, "wrong_password", "Le mot de passe actuel est incorrect.",
                       "The current password is incorrect.", field="current_password")
    if not PIN_PATTERN.fullmatch(pin):
        raise ApiError(422, "invalid_pin", "Le code vocal doit comporter exactement 6 chiffres.",
                       "The voice PIN must be exactly 6 digits.", field="pin")
    if trivial_pin(pin) or pin in normalise_phone(user.phone):
        raise ApiError(422, "trivial_pin", "Ce code vocal est trop facile à deviner (chiffres répétés ou qui se "
                       "suivent, ou tirés de votre numéro de téléphone). Choisissez-en un autre.",
                       "This voice PIN is too easy to guess (repeated or consecutive digits, or taken from your "
                       "phone number). Please choose another one.", field="pin")
    found = pin_of(session, user.id)
    if found is None:
        session.add(VoicePin(user_id=user.id, pin_hash=hash_password(pin)))
        audit(session, PIN_SET, user.id)
    else:
        found.pin_hash, found.failed_attempts, found.locked_until = hash_password(pin), 0, None
        found.updated_at = datetime.now(UTC)
        audit(session, PIN_CHANGED, user.id)
    session.commit()


def caller_user(session: Session, caller: str, phone: str | None = None) -> User | None:
    """The one active user the call is from: whose profile phone is the caller's number, else (when that number
    matches no single user) whose profile phone is the one the caller typed."""
    for number in (caller, phone):
        wanted = normalise_phone(number or "")
        if len(wanted) < 6:
            continue
        users = [u for u in session.scalars(select(User).where(User.status == UserStatus.active, User.phone != ""))
                 if normalise_phone(u.phone) == wanted]
        if len(users) == 1:
            return users[0]
    return None


def _locked(retry_after: int) -> ApiError:
    minutes = max(1, (retry_after + 59) // 60)
    return ApiError(423, "voice_locked", f"Trop de codes vocaux erronés : l'accès par téléphone est bloqué pendant "
                    f"{minutes} min.", f"Too many wrong voice PINs: phone access is locked for {minutes} min.",
                    headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


def verify(session: Session, caller: str, pin: str, phone: str | None = None) -> User:
    """The verified user, or an ApiError: 409 `caller_unknown` (no single user for these numbers), 409
    `no_voice_pin`, 403 `wrong_pin` (with `attempts_left`), 423 `voice_locked` (with `retry_after`)."""
    now = datetime.now(UTC)
    settings = get_settings()
    user = caller_user(session, caller, phone)
    if user is None:
        audit(session, UNKNOWN_CALLER, None, caller)
        session.commit()
        raise ApiError(409, "caller_unknown", "Ce numéro ne correspond à aucun utilisateur du portail.",
                       "This number matches no portal user.")
    found = session.scalar(select(VoicePin).where(VoicePin.user_id == user.id).with_for_update())
    if found is None:
        audit(session, NO_PIN, user.id, caller)
        session.commit()
        raise ApiError(409, "no_voice_pin", "Aucun code vocal n'est défini : choisissez-le dans votre profil du "
                       "portail.", "No voice PIN is set: choose one in your portal profile.")
    if found.locked_until is not None and _aware(found.locked_until) > now:
        audit(session, REFUSED_LOCKED, user.id, caller)
        session.commit()
        raise _locked(int((_aware(found.locked_until) - now).total_seconds()) + 1)
    if verify_password(pin, found.pin_hash) and PIN_PATTERN.fullmatch(pin):
        found.failed_attempts, found.locked_until = 0, None
        session.commit()
        return user
    found.failed_attempts += 1
    audit(session, WRONG_PIN, user.id, caller)
    if found.failed_attempts >= settings.voice_max_pin_attempts:
        found.failed_attempts, found.locked_until = 0, now + timedelta(minutes=settings.voice_lock_minutes)
        audit(session, LOCKED, user.id, caller)
        session.commit()
        raise _locked(settings.voice_lock_minutes * 60)
    left = settings.voice_max_pin_attempts - found.failed_attempts
    session.commit()
    raise ApiError(403, "wrong_pin", "Code vocal incorrect.", "Wrong voice PIN.", attempts_left=left)


SMS_LINK = {"fr": "{title} : {url}", "en": "{title}: {url}"}


def queue_article_link(session: Session, to: str, number: str, lang: str, base_url: str,
                       user_id: int | None = None) -> OutboundMessage:
    """Queues (does not send) an SMS with a knowledge article's title and public link for the caller."""
    rows = session.scalars(select(KnowledgeArticle).where(KnowledgeArticle.number == number.upper())).all()
    article = next((r for r in rows if r.lang == lang), rows[0] if rows else None)
    if article is None:
        raise ApiError(404, "not_found", f"Article {number} introuvable.", f"Article {number} not found.")
    if user_id is not None and session.get(User, user_id) is None:
        user_id = None
    url = f"{base_url.rstrip('/')}/kb/{article.number}?lang={article.lang}"
    message = OutboundMessage(user_id=user_id, medium="sms", to=to[:50], lang=lang, channel="phone",
                              body=SMS_LINK[lang].format(title=article.title, url=url))
    session.add(message)
    session.commit()
    return message
