"""Case ("dossier/ticket") rules: numbering, validation against the taxonomy and roles, visibility."""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import (
    Asset, AssetContact, Case, CaseActivity, CaseStatus, CaseWatcher, KbFeedback, Order, Role, User, UserStatus,
)
from backend.permissions import check_case_category
from backend.schemas import ActivityOut, AssetOut, CaseCreate, CaseOut, PersonOut
from backend.services.assets import find_visible_asset, resolve_assets_in_text
from backend.services.text import canonical_words
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
    """The cases a user is associated with ("Tous les tickets"): for an admin, the account's cases; for a user,
    those they created, are the contact or a secondary contact (watch list) of, or that are on their devices."""
    query = select(Case).where(Case.account_id == user.account_id)
    if user.role != Role.admin:
        my_assets = select(AssetContact.asset_id).where(AssetContact.user_id == user.id)
        watched = select(CaseWatcher.case_id).where(CaseWatcher.user_id == user.id)
        query = query.where(or_(Case.created_by_id == user.id, Case.contact_user_id == user.id,
                                Case.id.in_(watched), Case.asset_id.in_(my_assets)))
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


OPEN_STATUSES = (CaseStatus.new, CaseStatus.in_progress, CaseStatus.awaiting_customer)
CLOSED_STATUSES = (CaseStatus.resolved, CaseStatus.closed)


def list_visible_cases(session: Session, user: User, limit: int = 50, which: str = "all", state: str | None = None,
                       asset: str | None = None, offset: int = 0) -> list[Case]:
    """"Mes listes": action_required (awaiting the customer), mine (created by me) or all; optionally only the open
    or the closed ones, only those of one visible device (number, serial or alias), from `offset` on."""
    query = visible_cases_query(user)
    if which == "action_required":
        query = query.where(Case.status == CaseStatus.awaiting_customer)
    elif which == "mine":
        query = query.where(Case.created_by_id == user.id)
    if state is not None:
        query = query.where(Case.status.in_(OPEN_STATUSES if state == "open" else CLOSED_STATUSES))
    if asset is not None:
        query = query.where(Case.asset_id == find_visible_asset(session, user, asset).id)
    return list(session.scalars(query.order_by(Case.number.desc()).offset(offset).limit(limit)))


def create_case(session: Session, user: User, data: CaseCreate, order: Order | None = None,
                section: str | None = None) -> Case:
    """Create a case (flushed; the caller commits, through services/idempotency.run_once, which also retries the
    rare race of two creations for the same number).

    `section` restricts the category to one taxonomy section (e.g. "requests" for POST /requests).
    """
    taxonomy = get_taxonomy()
    found = taxonomy.get(data.category, data.subcategory)
    if found is None:
        raise ApiError(
            422, "unknown_category",
            f"Type de demande inconnu : {data.category} / {data.subcategory}.",
            f"Unknown request type: {data.category} / {data.subcategory}.",
        )
    category, _ = found
    if section is not None and category.section != section:
        raise ApiError(
            422, "wrong_section",
            f"« {data.category} » n'est pas un type de demande de cette rubrique.",
            f"'{data.category}' is not a request type of this section.", field="category",
        )
    check_case_category(user, category.code)  # the role table, incl. the seed's asterisk (admin_only)
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

    case = Case(
        number=_next_case_number(session),
        account_id=user.account_id,
        asset_id=asset.id if asset else (order.asset_id if order else None),
        category=data.category,
        subcategory=data.subcategory,
        description=data.description.strip(),
        priority=data.priority,
        created_by_id=user.id,
        contact_name=user.full_name,
        contact_user_id=user.id,
        order_id=order.id if order else None,
        channel=data.channel,
        kb_articles_shown=list(data.kb_articles_shown),
        kb_feedback=data.kb_feedback,
        transcript=data.transcript,
    )
    case.activities.append(CaseActivity(author_id=user.id, author_name=user.full_name, body=data.description.strip()))
    session.add(case)
    session.flush()
    session.refresh(case)
    return case


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
        transcript=case.transcript,
        kb_articles_shown=case.kb_articles_shown or [],
        kb_feedback=case.kb_feedback,
        created_at=case.created_at,
        updated_at=case.updated_at,
        activities=[ActivityOut.model_validate(a) for a in case.activities],
        watchers=[PersonOut.model_validate(w.user) for w in case.watchers],
        order_number=case.order.number if case.order else None,
    )


def add_comment(session: Session, user: User, case: Case, body: str) -> CaseActivity:
    text = body.strip()
    if not text:
        raise ApiError(422, "empty_comment", "Le commentaire est vide.", "The comment is empty.", field="body")
    activity = CaseActivity(case_id=case.id, author_id=user.id, author_name=user.full_name, body=text)
    session.add(activity)
    if case.status == CaseStatus.awaiting_customer:  # the customer answered: back to Canon
        case.status = CaseStatus.in_progress
    case.updated_at = datetime.now(UTC)
    session.flush()
    return activity


def add_watcher(session: Session, case: Case, user_id: int | None, email: str | None) -> Case:
    """Add a secondary contact (flushes; the caller commits)."""
    if (user_id is None) == (email is None):
        raise ApiError(422, "one_watcher_expected", "Indiquez user_id ou email (un seul).",
                       "Give user_id or email (only one).", field="body")
    query = select(User).where(User.account_id == case.account_id)
    query = query.where(User.id == user_id) if user_id is not None else query.where(func.lower(User.email) == email)
    watcher = session.scalars(query).first()
    if watcher is None or watcher.status == UserStatus.inactive:
        raise not_found(f"Utilisateur {user_id or email}", f"User {user_id or email}")
    if any(w.user_id == watcher.id for w in case.watchers):
        raise ApiError(409, "already_watching", "Cette personne est déjà un contact secondaire du dossier.",
                       "This person is already a secondary contact of the case.")
    case.watchers.append(CaseWatcher(user_id=watcher.id))
    session.flush()
    return case


def remove_watcher(session: Session, case: Case, user_id: int) -> Case:
    link = next((w for w in case.watchers if w.user_id == user_id), None)
    if link is None:
        raise not_found(f"Contact secondaire {user_id}", f"Secondary contact {user_id}")
    case.watchers.remove(link)
    session.commit()
    return case


def canon_update(session: Session, case: Case, status: CaseStatus, message: str) -> Case:
    """An update from Canon's support (demo seed/tests): a message in the activity stream and a new status;
    awaiting_customer puts the case in the customer's "Action requise" list."""
    case.activities.append(CaseActivity(author_id=None, author_name="Canon", body=message))
    case.status = status
    case.updated_at = datetime.now(UTC)
    session.commit()
    return case


# --- a case named by its topic ("my ticket about the noise on the 2nd floor copier") ------------------------------
# Words that name no topic: function words of both languages and the words for "case" itself.
_NO_TOPIC = set("""
a au aux avec ce ces cet cette dans de des du elle en est et il ils je la le les leur lui ma mais me mes mon ne nos
notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes ton tu un une vos votre vous y ça ca c d j l m
n s t qu quoi quel quelle quels quelles comment quand fait faire etait ete avait avons avez sont etre avoir
encore deja tout tous toute toutes bien plus moins tres peu alors donc aussi
ticket tickets dossier dossiers demande demandes cas suivi statut etat nouvelles nouvelle nouveau probleme
the an and or of to in on at for with about from by is are was were be been has have had do does did it its this
that these those my our your their we you they he she them what which who when where how any anything
something happened happen news status update updates latest still yet there here just please ok case cases
ticket request requests problem issue one
""".split())
_MATCH_MIN_SCORE = 2.5   # a topic names a case when its words score this much ...
_MATCH_MARGIN = 1.5      # ... and this much more than the next case's


def _topic_words(text: str) -> set[str]:
    words = set()
    for word in canonical_words(text):
        if len(word) < 2 or word in _NO_TOPIC or word.isdigit():
            continue
        words.add(word[:-1] if len(word) > 4 and word[-1] in "sx" else word)
    return words


def _case_words(case: Case) -> set[str]:
    """What a case is about, in both languages: its description, its type's labels and symptom words, its
    device's model, alias and place, and the items of the order it is about."""
    parts = [case.description]
    found = get_taxonomy().get(case.category, case.subcategory)
    if found:
        category, subcategory = found
        parts += [*category.labels.values(), *subcategory.labels.values()]
        parts += [word for words in subcategory.keywords.values() for word in words]
    if case.asset is not None:
        parts += [case.asset.model, case.asset.alias or "", case.asset.location or ""]
    if case.order is not None:
        parts += [line.description for line in case.order.lines]
    return _topic_words(" ".join(parts))


def match_cases(session: Session, user: User, text: str,
                limit: int = 5) -> tuple[list[tuple[Case, float]], Case | None]:
    """The visible cases a sentence's words describe, best first with their scores, and the one it clearly names
    (None when no case stands out). A word counts more when fewer cases share it."""
    wanted = _topic_words(text)
    if not wanted:
        return [], None
    cases = list_visible_cases(session, user, limit=200)
    named_devices = {asset.id for asset in resolve_assets_in_text(session, user, text)[0]}
    described = [(case, _case_words(case)) for case in cases]
    frequency = {w: sum(1 for _, words in described if w in words) for w in wanted}
    scored = []
    for case, words in described:
        score = sum(math.log2(1 + len(cases) / frequency[w]) for w in wanted & words)
        if named_devices and case.asset_id in named_devices:
            score += 1.0
        if score > 0:
            scored.append((case, round(score, 2)))
    scored.sort(key=lambda item: (-item[1], item[0].number))
    best = None
    if scored and scored[0][1] >= _MATCH_MIN_SCORE and (
            len(scored) == 1 or scored[0][1] - scored[1][1] >= _MATCH_MARGIN):
        best = scored[0][0]
    return scored[:limit], best
