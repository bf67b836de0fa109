"""Case ("dossier/ticket") rules: numbering, validation against the taxonomy and roles, visibility."""
from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import Asset, AssetContact, Case, CaseActivity, CaseStatus, KbFeedback, Role, User
from backend.schemas import ActivityOut, AssetOut, CaseCreate, CaseOut, PersonOut
from backend.services.assets import find_visible_asset
from backend.taxonomy import get_taxonomy

CASE_NUMBER = re.compile(r"^CS\d{7}$")
FIRST_CASE_NUMBER = 32400
STATUS_LABELS = {
    CaseStatus.new: {"fr": "Nouveau", "en": "New"},
    CaseStatus.in_progress: {"fr": "En cours", "en": "In progress"},
    CaseStatus.awaiting_customer: {"fr": "Action requise", "en": "Action required"},
    CaseStatus.resolved: {"fr": "Résolu", "en": "Resolved"},
    CaseStatus.closed: {"fr": "Terminé", "en": "Closed"},
}


def _next_case_number(session: Session) -> str:
    last = session.scalar(select(func.max(Case.number)))
    value = int(last[2:]) + 1 if last else FIRST_CASE_NUMBER
    return f"CS{value:07d}"


def visible_cases_query(user: User):
    query = select(Case).where(Case.account_id == user.account_id)
    if user.role != Role.admin:
        my_assets = select(AssetContact.asset_id).where(AssetContact.user_id == user.id)
        query = query.where(or_(Case.created_by_id == user.id, Case.asset_id.in_(my_assets)))
    return query


def get_visible_case(session: Session, user: User, number: str) -> Case:
    number = number.strip().upper()
    if not CASE_NUMBER.match(number):
        raise ApiError(
            422, "invalid_case_number",
            f"« {number} » n'est pas un numéro de dossier valide (format CS suivi de 7 chiffres, ex. CS0032498).",
            f"'{number}' is not a valid case number (format CS followed by 7 digits, e.g. CS0032498).",
        )
    case = session.scalars(visible_cases_query(user).where(Case.number == number)).first()
    if case is None:
        raise not_found(f"Dossier {number}", f"Case {number}")
    return case


def list_visible_cases(session: Session, user: User, limit: int = 50) -> list[Case]:
    return list(session.scalars(visible_cases_query(user).order_by(Case.number.desc()).limit(limit)))


def _case_for_key(session: Session, user: User, idempotency_key: str | None) -> Case | None:
    if not idempotency_key:
        return None
    return session.scalars(
        select(Case).where(Case.created_by_id == user.id, Case.idempotency_key == idempotency_key)
    ).first()


def create_case(session: Session, user: User, data: CaseCreate, idempotency_key: str | None) -> tuple[Case, bool]:
    """Create a case; returns (case, created). A retried request with the same key returns the first case."""
    existing = _case_for_key(session, user, idempotency_key)
    if existing is not None:
        return existing, False

    taxonomy = get_taxonomy()
    found = taxonomy.get(data.category, data.subcategory)
    if found is None:
        raise ApiError(
            422, "unknown_category",
            f"Type de demande inconnu : {data.category} / {data.subcategory}.",
            f"Unknown request type: {data.category} / {data.subcategory}.",
        )
    category, _ = found
    if category.admin_only and user.role != Role.admin:
        raise ApiError(
            403, "forbidden_for_role",
            "Seul un administrateur peut soumettre ce type de demande.",
            "Only an administrator can submit this type of request.",
        )
    asset: Asset | None = find_visible_asset(session, user, data.asset) if data.asset else None
    if category.section == "faults" and asset is None:
        raise ApiError(
            422, "asset_required",
            "Indiquez l'appareil concerné par la panne.",
            "Please say which device the fault is about.",
        )
    if data.kb_feedback == KbFeedback.yes:
        raise ApiError(
            422, "problem_solved",
            "Un article a résolu le problème : enregistrez une résolution par la base de connaissances, pas un dossier.",
            "An article solved the problem: record a knowledge-base resolution, not a case.",
        )

    for _ in range(5):  # two concurrent creations can race for the same number: retry with the next one
        case = Case(
            number=_next_case_number(session),
            account_id=user.account_id,
            asset_id=asset.id if asset else None,
            category=data.category,
            subcategory=data.subcategory,
            description=data.description.strip(),
            priority=data.priority,
            created_by_id=user.id,
            contact_name=user.full_name,
            channel=data.channel,
            kb_articles_shown=list(data.kb_articles_shown),
            kb_feedback=data.kb_feedback,
            transcript=data.transcript,
            idempotency_key=idempotency_key,
        )
        case.activities.append(CaseActivity(author_id=user.id, author_name=user.full_name, body=data.description.strip()))
        session.add(case)
        try:
            session.commit()
            return case, True
        except IntegrityError:
            session.rollback()
            existing = _case_for_key(session, user, idempotency_key)  # a concurrent retry won the race
            if existing is not None:
                return existing, False
    raise ApiError(503, "busy", "Le portail est très sollicité, réessayez.", "The portal is busy, please retry.")


def case_to_out(case: Case, lang: str) -> CaseOut:
    found = get_taxonomy().get(case.category, case.subcategory)
    category_label = found[0].labels[lang] if found else case.category
    subcategory_label = found[1].labels[lang] if found else case.subcategory
    return CaseOut(
        number=case.number,
        status=case.status,
        status_label=STATUS_LABELS[case.status][lang],
        priority=case.priority,
        category=case.category,
        category_label=category_label,
        subcategory=case.subcategory,
        subcategory_label=subcategory_label,
        asset=AssetOut.model_validate(case.asset) if case.asset else None,
        description=case.description,
        requester=PersonOut.model_validate(case.created_by),
        contact_name=case.contact_name,
        channel=case.channel,
        kb_articles_shown=case.kb_articles_shown or [],
        kb_feedback=case.kb_feedback,
        created_at=case.created_at,
        updated_at=case.updated_at,
        activities=[ActivityOut.model_validate(a) for a in case.activities],
    )
