"""Which assets a user may see: an admin all assets of their account, a user only those assigned to them."""
from __future__ import annotations

import re

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import Asset, AssetContact, Contact, Role, User, UserStatus
from backend.schemas import (
    AddressOut, AssetContactCreate, AssetContactOut, AssetDetailOut, AssetOut, ContactCreate, ContractOut,
)
from backend.services.text import canonical_words, contains_phrase, normalize


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


def only_visible_asset(session: Session, user: User) -> Asset | None:
    """The user's device when they see exactly one, else None."""
    assets = list(session.scalars(visible_assets_query(user).limit(2)))
    return assets[0] if len(assets) == 1 else None


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


# "du 1er", "on the 2nd": a floor's number alone, unless a device word follows ("the 2nd printer" is no floor)
NUMERIC_FLOOR = re.compile(r"(?<!\w)(\d{1,2})(?:er|ere|eme|em|e|nd|st|rd|th)(?!\w)(?!\s+(?:copieur|copieuse|"
                           r"photocopieur|photocopieuse|imprimante|machine|appareil|printer|copier|device|one)\b)")


def _words_named(text_words: set[str], normalized_text: str, distinctive: list[str]) -> bool:
    """Every distinctive word is in the text; a floor may be said by its number alone ("la machine du 1er", "the one
    on the 2nd"), a number written as digits: a word ordinal alone ("first") says no floor."""
    if all(word in text_words for word in distinctive):
        return True
    if "etage" in distinctive and "etage" not in text_words:
        floors = {f"{int(n)}e" for n in NUMERIC_FLOOR.findall(normalized_text)}
        rest = [word for word in distinctive if word != "etage"]
        return bool(rest) and all(word in text_words for word in rest) and any(word in floors for word in rest)
    return False


def _alias_named(text_words: set[str], normalized_text: str, alias: str) -> bool:
    distinctive = [word for word in canonical_words(alias) if word not in GENERIC_WORDS]
    if not distinctive:
        return contains_phrase(normalized_text, alias)
    return _words_named(text_words, normalized_text, distinctive)


def _place_named(text_words: set[str], normalized_text: str, location: str | None) -> bool:
    """"celle de l'accueil", "the one at reception" name the device whose location ends with "— Accueil": every
    distinctive word of the place (the part after the address, when the location has one) is in the text."""
    if not location:
        return False
    place = re.split(r"\s[—–-]\s", location)[-1]
    distinctive = [word for word in canonical_words(place) if word not in GENERIC_WORDS]
    return bool(distinctive) and _words_named(text_words, normalized_text, distinctive)


MODEL_CODE = re.compile(r"\d{3,}")


def _model_named(text_words: set[str], model: str) -> bool:
    """"la C5030", "the 5560i": the number of the device's model ("Canon iR-ADV C5030i")."""
    codes = set(MODEL_CODE.findall(normalize(model)))
    said = {code for word in text_words if len(word) < 8 for code in MODEL_CODE.findall(word)}
    return bool(codes & said)


def resolve_assets_in_text(session: Session, user: User, text: str) -> tuple[list[Asset], list[str]]:
    """Find which visible assets a sentence talks about ("c'est la WHJ01481", "la machine du 2e étage",
    "celle de l'accueil", "the C5030").

    Returns (matches, unknown_references): the visible assets named by number, serial, alias, place or model
    number, and the things that look like an asset number or serial but name no visible asset. A model number
    counts only when nothing else names a device (it may name several).
    """
    normalized = normalize(text)
    text_words = set(canonical_words(text))
    references = {ref.lower() for ref in ASSET_REFERENCE.findall(text)}
    visible = list_visible_assets(session, user)
    matches = [a for a in visible if a.asset_number.lower() in references or a.serial.lower() in references
               or (a.alias and _alias_named(text_words, normalized, a.alias)) or _place_named(text_words, normalized, a.location)]
    if not matches:
        matches = [a for a in visible if _model_named(text_words, a.model)]
    known = {a.asset_number.lower() for a in matches} | {a.serial.lower() for a in matches}
    unknown = sorted(ref.upper() for ref in references - known)
    return matches, unknown


# --- detail, alias, contacts ---------------------------------------------------------------------------------------

def asset_detail(asset: Asset) -> AssetDetailOut:
    account = asset.account
    return AssetDetailOut(
        **AssetOut.model_validate(asset).model_dump(),
        account_name=account.name,
        address=AddressOut(street=account.street, city=account.city, postcode=account.postcode,
                           country=account.country, location=asset.location),
        contract=ContractOut(number=asset.contract_number, end_date=asset.contract_end_date,
                             covers_consumables=asset.covers_consumables, covers_service=asset.covers_service),
    )


def set_alias(session: Session, asset: Asset, alias: str | None) -> Asset:
    """Alias names are unique within the account and may not be another device's number or serial."""
    alias = (alias or "").strip() or None
    if alias is not None:
        key = alias.lower()
        clash = session.scalars(select(Asset).where(
            Asset.account_id == asset.account_id, Asset.id != asset.id,
            or_(func.lower(Asset.alias) == key, func.lower(Asset.serial) == key, func.lower(Asset.asset_number) == key),
        )).first()
        if clash is not None:
            raise ApiError(409, "alias_taken", f"Le nom d'alias « {alias} » est déjà utilisé par un autre appareil du compte.",
                           f"The alias name '{alias}' is already used by another device of the account.", field="alias")
    asset.alias = alias
    session.commit()
    return asset


def asset_contact_out(link: AssetContact) -> AssetContactOut:
    if link.user is not None:
        person = link.user
        return AssetContactOut(id=link.id, kind="user", user_id=person.id, contact_id=None, full_name=person.full_name,
                               email=person.email, phone=person.phone)
    contact = link.contact
    return AssetContactOut(id=link.id, kind="contact", user_id=None, contact_id=contact.id,
                           full_name=contact.full_name, email=contact.email, phone=contact.phone)


def create_contact(session: Session, admin: User, data: ContactCreate) -> Contact:
    contact = Contact(account_id=admin.account_id, full_name=data.full_name.strip(), email=data.email or "",
                      phone=data.phone.strip())
    session.add(contact)
    session.flush()
    return contact


def add_asset_contact(session: Session, admin: User, asset: Asset, data: AssetContactCreate) -> AssetContact:
    given = [x for x in (data.user_id, data.contact_id, data.contact) if x is not None]
    if len(given) != 1:
        raise ApiError(422, "one_contact_expected", "Indiquez exactement un élément : user_id, contact_id ou contact.",
                       "Give exactly one of: user_id, contact_id or contact.", field="body")
    link = AssetContact(asset_id=asset.id)
    if data.user_id is not None:
        user = session.get(User, data.user_id)
        if user is None or user.account_id != asset.account_id:
            raise not_found(f"Utilisateur {data.user_id}", f"User {data.user_id}")
        if user.status == UserStatus.inactive:
            raise ApiError(409, "user_inactive", "Cet utilisateur est désactivé.", "This user is deactivated.")
        link.user_id = user.id
        duplicate = AssetContact.user_id == user.id
    else:
        if data.contact_id is not None:
            contact = session.get(Contact, data.contact_id)
            if contact is None or contact.account_id != asset.account_id:
                raise not_found(f"Contact {data.contact_id}", f"Contact {data.contact_id}")
        else:
            contact = create_contact(session, admin, data.contact)
        link.contact_id = contact.id
        duplicate = AssetContact.contact_id == contact.id
    if session.scalar(select(AssetContact.id).where(AssetContact.asset_id == asset.id, duplicate)) is not None:
        raise ApiError(409, "already_contact", "Cette personne est déjà un contact de l'appareil.",
                       "This person is already a contact of the device.")
    session.add(link)
    session.flush()
    session.refresh(link)
    return link


def remove_asset_contact(session: Session, asset: Asset, link_id: int) -> None:
    link = session.get(AssetContact, link_id)
    if link is None or link.asset_id != asset.id:
        raise not_found(f"Contact {link_id}", f"Contact {link_id}")
    session.delete(link)
    session.commit()
