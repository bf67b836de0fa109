"""Which assets a user may see: an admin all assets of their account, a user only those assigned to them."""
from __future__ import annotations

import re

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.core.errors import not_found
from backend.models import Asset, AssetContact, Role, User
from backend.services.text import contains_phrase, normalize


def visible_assets_query(user: User) -> Select[tuple[Asset]]:
    query = select(Asset).where(Asset.account_id == user.account_id)
    if user.role != Role.admin:
        query = query.where(
            Asset.id.in_(select(AssetContact.asset_id).where(AssetContact.user_id == user.id))
        )
    return query.order_by(Asset.asset_number)


def list_visible_assets(session: Session, user: User, search: str | None = None) -> list[Asset]:
    query = visible_assets_query(user)
    if search:
        # A "%" or "_" typed by the user is a character to find, not a wildcard.
        escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Asset.asset_number).like(pattern, escape="\\"),
                func.lower(Asset.serial).like(pattern, escape="\\"),
                func.lower(Asset.alias).like(pattern, escape="\\"),
            )
        )
    return list(session.scalars(query))


def find_visible_asset(session: Session, user: User, reference: str) -> Asset:
    """Resolve an asset number, serial or alias (exact, case-insensitive) among the user's visible assets.

    An asset of another account, or one not assigned to a `user`, is reported exactly like an unknown one.
    """
    ref = reference.strip().lower()
    query = visible_assets_query(user).where(
        or_(
            func.lower(Asset.asset_number) == ref,
            func.lower(Asset.serial) == ref,
            func.lower(Asset.alias) == ref,
        )
    )
    asset = session.scalars(query).first()
    if asset is None:
        raise not_found(f"Appareil « {reference} »", f"Device '{reference}'")
    return asset


ASSET_REFERENCE = re.compile(r"(?<!\w)(\d{8}|[A-Za-z]{3}\d{5})(?!\w)")
# Words that say "a device" without saying which one: "la machine du 2e étage" names the alias
# "Copieur 2e étage" by its distinctive words only.
GENERIC_WORDS = frozenset(
    "copieur copieuse photocopieur photocopieuse imprimante machine appareil multifonction mfp printer copier "
    "device photocopier le la les l du de des d au the of a an at on".split()
)


def _alias_named(normalized_text: str, alias: str) -> bool:
    distinctive = [word for word in re.findall(r"\w+", normalize(alias)) if word not in GENERIC_WORDS]
    if not distinctive:
        return contains_phrase(normalized_text, alias)
    return all(contains_phrase(normalized_text, word) for word in distinctive)


def resolve_assets_in_text(session: Session, user: User, text: str) -> tuple[list[Asset], list[str]]:
    """Find which visible assets a sentence talks about ("c'est la WHJ01481", "la machine du 2e étage").

    Returns (matches, unknown_references): the visible assets named by number, serial or alias, and the
    things that look like an asset number or serial but name no visible asset.
    """
    normalized = normalize(text)
    references = {ref.lower() for ref in ASSET_REFERENCE.findall(text)}
    matches: list[Asset] = []
    for asset in list_visible_assets(session, user):
        by_reference = asset.asset_number.lower() in references or asset.serial.lower() in references
        by_alias = bool(asset.alias) and _alias_named(normalized, asset.alias)
        if by_reference or by_alias:
            matches.append(asset)
    known = {a.asset_number.lower() for a in matches} | {a.serial.lower() for a in matches}
    unknown = sorted(ref.upper() for ref in references - known)
    return matches, unknown
