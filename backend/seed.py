"""Create/upgrade the schema and seed the demo data taken from the seed guide.

`python -m backend.seed` is idempotent: demo accounts are created only in an empty database; knowledge
articles are synchronised from data/knowledge on every run.
"""
from __future__ import annotations

import argparse
import logging
from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from backend.core.config import REPO_ROOT, get_settings
from backend.core.db import get_session_factory
from backend.core.security import hash_password
from backend.models import (
    Account, Asset, AssetContact, Case, CaseActivity, CaseStatus, CaseWatcher, Consumable, Contact, Meter,
    MeterReading, Order, OrderLine, PORTAL_CHANNEL, Role, TrainingRequest, User, UserStatus,
)
from backend.services.meters import EMAINTENANCE_SOURCE, METER_NAMES, PORTAL_SOURCE
from backend import knowledge_admin
from knowledge_index import load_corpus

log = logging.getLogger("backend.seed")

ADMIN_EMAIL = "sntestportaldemo@outlook.com"
USER_EMAIL = "sntestdemoportaldm@yopmail.com"
OTHER_ADMIN_EMAIL = "admin@northwind-imprimerie.fr"


def migrate(database_url: str | None = None) -> None:
    url = make_url(database_url or get_settings().database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    config = Config(str(REPO_ROOT / "backend" / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "backend" / "migrations"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")


def seed_demo(session: Session, password: str) -> bool:
    """Insert the demo accounts once; returns False when the database already has data."""
    if session.scalar(select(Account.id).limit(1)) is not None:
        return False
    password_hash = hash_password(password)
    canon = Account(name="CANON UK LTD", street="4 Roundwood Avenue", city="Uxbridge", postcode="UB11 1AF",
                    country="Royaume-Uni", currency="GBP")
    admin = User(account=canon, email=ADMIN_EMAIL, full_name="SNTest DemoPortal", phone="+44 20 7946 0001",
                 role=Role.admin, language="fr", password_hash=password_hash)
    user = User(account=canon, email=USER_EMAIL, full_name="SNTestDM DemoPortal", phone="+44 20 7946 0002",
                role=Role.user, language="en", password_hash=password_hash)
    inactive = User(account=canon, email="alan.stane@canon-uk-demo.example", full_name="Alan Inactive_Stane",
                    role=Role.user, status=UserStatus.inactive, language="en", password_hash=None)
    c5560 = Asset(account=canon, asset_number="77996101", serial="WHJ01481", model="Canon iR-ADV C5560i",
                  alias="Copieur 2e étage", location="4 Roundwood Avenue, Uxbridge — 2e étage",
                  contract_number="CTR-GB-0045812", contract_end_date=date(2028, 3, 31), covers_consumables=True,
                  covers_service=True)
    c5030 = Asset(account=canon, asset_number="53463252", serial="GNM75498", model="Canon iR-ADV C5030i",
                  alias=None, location="4 Roundwood Avenue, Uxbridge — Accueil",
                  contract_number="CTR-GB-0045813", contract_end_date=date(2027, 6, 30), covers_consumables=False,
                  covers_service=True)
    c5560b = Asset(account=canon, asset_number="80145861", serial="WHJ02153", model="Canon iR-ADV C5560i",
                   alias="WHJ02153", location="4 Roundwood Avenue, Uxbridge — 1er étage", emaintenance=True,
                   contract_number="CTR-GB-0051190", contract_end_date=date(2029, 1, 31), covers_consumables=True,
                   covers_service=True)
    c5030.contacts.append(AssetContact(user=user))
    c5560.contacts.append(AssetContact(user=inactive))

    other = Account(name="NORTHWIND IMPRIMERIE SARL", street="12 rue des Presses", city="Lyon", postcode="69002",
                    country="France", currency="EUR")
    other_admin = User(account=other, email=OTHER_ADMIN_EMAIL, full_name="Claire Martin", role=Role.admin,
                       language="fr", password_hash=password_hash)
    other_asset = Asset(account=other, asset_number="91230045", serial="XKL55120", model="Canon iR-ADV C5535i",
                        alias="Atelier", location="12 rue des Presses, Lyon",
                        contract_number="CTR-FR-0078120", contract_end_date=date(2027, 12, 31),
                        covers_consumables=True, covers_service=True)
    session.add_all([canon, admin, user, inactive, c5560, c5030, c5560b, other, other_admin, other_asset])
    session.flush()

    def case(number, asset, category, subcategory, description, status, creator=admin, contact=None):
        contact = contact or creator
        c = Case(number=number, account_id=creator.account_id, asset_id=asset.id if asset else None,
                 category=category, subcategory=subcategory, description=description, status=status,
                 priority=3, created_by_id=creator.id, contact_name=contact.full_name, contact_user_id=contact.id,
                 channel=PORTAL_CHANNEL)
        c.activities.append(CaseActivity(author_id=creator.id, author_name=creator.full_name, body=description))
        return c

    session.add_all([
        case("CS0032411", None, "contract_question", "billable_service", "Question sur un service payant.",
             CaseStatus.new),
        case("CS0032412", None, "contract_question", "contract_copy", "Merci de nous envoyer une copie du contrat.",
             CaseStatus.new),
        case("CS0032413", c5030, "order_enquiry", "consumables_request", "Demande de consommables.", CaseStatus.new),
        case("CS0032414", c5560b, "meter_reading", "query", "Question sur le relevé du compteur 112.",
             CaseStatus.new),
        case("CS0032497", c5030, "malfunction", "toner_problem", "Toner renversé dans l'appareil.",
             CaseStatus.closed),
        case("CS0032498", c5560, "malfunction", "unusual_noise", "Bruit inhabituel", CaseStatus.closed,
             contact=inactive),
        case("CS0031877", other_asset, "paper_jam", "drawer_tray", "Bourrage récurrent dans le tiroir 2.",
             CaseStatus.in_progress, creator=other_admin),
    ])
    _seed_portal_features(session, canon, admin, user, inactive, c5560, c5030, c5560b, other, other_admin,
                          other_asset, case)
    session.commit()
    return True


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


# Consumables per device model: (part number, description, category, price in pence/cents, max quantity,
# covered by a consumables contract). Canon-style references; 0250A013 "Cartridge-D3" comes from the seed.
CATALOGUE = {
    "Canon iR-ADV C5030i": [
        ("2790B002", "C-EXV29 Toner Black", "Toner", 8950, 4, True),
        ("2794B002", "C-EXV29 Toner Cyan", "Toner", 14500, 4, True),
        ("2798B002", "C-EXV29 Toner Magenta", "Toner", 14500, 4, True),
        ("2802B002", "C-EXV29 Toner Yellow", "Toner", 14500, 4, True),
        ("2778B003", "C-EXV29 Drum Unit Black", "Drum", 24900, 2, True),
        ("2779B003", "C-EXV29 Drum Unit Colour", "Drum", 29900, 2, True),
        ("FM3-5945-010", "Waste Toner Container", "Waste toner", 2450, 3, True),
        ("0250A013", "Cartridge-D3-NONE-", "Staples", 6200, 5, False),
    ],
    "Canon iR-ADV C5560i": [
        ("0481C002", "C-EXV51 Toner Black", "Toner", 9950, 4, True),
        ("0482C002", "C-EXV51 Toner Cyan", "Toner", 15900, 4, True),
        ("0483C002", "C-EXV51 Toner Magenta", "Toner", 15900, 4, True),
        ("0484C002", "C-EXV51 Toner Yellow", "Toner", 15900, 4, True),
        ("0488C002", "C-EXV51 Drum Unit", "Drum", 27900, 2, True),
        ("FM1-A606-020", "WT-202 Waste Toner Container", "Waste toner", 2650, 3, True),
        ("1725B001", "Staple Cartridge-X1", "Staples", 5400, 5, False),
    ],
    "Canon iR-ADV C5535i": [
        ("8524B002", "C-EXV49 Toner Black", "Toner", 8450, 4, True),
        ("8525B002", "C-EXV49 Toner Cyan", "Toner", 13900, 4, True),
        ("8526B002", "C-EXV49 Toner Magenta", "Toner", 13900, 4, True),
        ("8527B002", "C-EXV49 Toner Yellow", "Toner", 13900, 4, True),
        ("8528B003", "C-EXV49 Drum Unit", "Drum", 26900, 2, True),
        ("FM1-A606-020", "WT-202 Waste Toner Container", "Waste toner", 2650, 3, True),
        ("1725B001", "Staple Cartridge-X1", "Staples", 5400, 5, False),
    ],
}


def _seed_portal_features(session, canon, admin, user, inactive, c5560, c5030, c5560b, other, other_admin,
                          other_asset, case) -> None:  # noqa: ANN001
    # A pending access request and a non-registered contact on each account.
    session.add(User(account=canon, email="priya.pending@canon-uk-demo.example", full_name="Priya Pending",
                     phone="+44 20 7946 0003", role=Role.user, status=UserStatus.pending, origin="access_request",
                     language="en", password_hash=None))
    facilities = Contact(account_id=canon.id, full_name="Jane Facilities", email="jane.facilities@example.com",
                         phone="+44 20 7946 0100")
    session.add_all([facilities, Contact(account_id=other.id, full_name="Marc Atelier", email="marc@example.fr",
                                         phone="+33 4 72 00 00 00")])
    session.flush()
    c5560.contacts.append(AssetContact(contact_id=facilities.id))

    # Meters. 77996101: the seed's form, last 112 reading 2380 from e-Maintenance (UGW). 80145861: the values of
    # the seed's second table (2024-02-08).
    def meters(asset, base, suffix, history):
        for code, readings in history.items():
            meter = Meter(asset_id=asset.id, code=code, name_fr=METER_NAMES[code][0], name_en=METER_NAMES[code][1],
                          integration_id=f"{asset.asset_number}-{base}-{code}-{suffix}")
            for day, value, source, by in readings:
                meter.readings.append(MeterReading(value=value, read_at=_at(day), source=source,
                                                   submitted_by_id=by.id if by else None))
            session.add(meter)

    ugw = EMAINTENANCE_SOURCE
    meters(c5560, "77995625", "GBAAP", {
        "112": [(date(2026, 9, 1), 1840, ugw, None), (date(2026, 10, 1), 2105, ugw, None),
                (date(2026, 11, 2), 2380, ugw, None)],
        "113": [(date(2026, 10, 1), 40110, ugw, None), (date(2026, 11, 2), 41250, ugw, None)],
        "122": [(date(2026, 10, 1), 1402, ugw, None), (date(2026, 11, 2), 1520, ugw, None)],
        "123": [(date(2026, 10, 1), 18120, ugw, None), (date(2026, 11, 2), 18890, ugw, None)],
    })
    meters(c5560b, "78389528", "GBAAP", {
        "112": [(date(2024, 2, 8), 6586, ugw, None)], "113": [(date(2024, 2, 8), 153665, ugw, None)],
        "122": [(date(2024, 2, 8), 9792, ugw, None)], "123": [(date(2024, 2, 8), 143312, ugw, None)],
    })
    meters(c5030, "53460017", "GBAAP", {
        "112": [(date(2026, 10, 15), 15230, PORTAL_SOURCE, user)],
        "113": [(date(2026, 10, 15), 88410, PORTAL_SOURCE, user)],
        "122": [(date(2026, 10, 15), 4210, PORTAL_SOURCE, user)],
        "123": [(date(2026, 10, 15), 61175, PORTAL_SOURCE, user)],
    })
    meters(other_asset, "91230100", "FRAAP", {
        "112": [(date(2026, 11, 3), 5120, ugw, None)], "113": [(date(2026, 11, 3), 30400, ugw, None)],
        "122": [(date(2026, 11, 3), 870, ugw, None)], "123": [(date(2026, 11, 3), 12055, ugw, None)],
    })

    catalogue = {}
    for model, items in CATALOGUE.items():
        for part, description, category, cents, limit, coverable in items:
            item = Consumable(device_model=model, part_number=part, description=description, category=category,
                              unit_price_cents=cents, max_quantity=limit, contract_coverable=coverable)
            catalogue[(model, part)] = item
            session.add(item)
    session.flush()

    # Order history: ORD0001228..ORD0001233 (the next portal order is ORD0001234).
    def order(number, asset, by, day, lines):
        account = canon if asset.account_id == canon.id else other
        o = Order(number=number, account_id=asset.account_id, asset_id=asset.id, created_by_id=by.id,
                  status="delivered", contact_name=by.full_name, contact_email=by.email, contact_phone=by.phone,
                  ship_recipient=account.name, ship_street=account.street, ship_city=account.city,
                  ship_postcode=account.postcode, ship_country=account.country, currency=account.currency,
                  total_cents=0, created_at=_at(day))
        for part, quantity in lines:
            item = catalogue[(asset.model, part)]
            covered = asset.covers_consumables and item.contract_coverable
            total = 0 if covered else item.unit_price_cents * quantity
            o.lines.append(OrderLine(consumable_id=item.id, part_number=part, description=item.description,
                                     category=item.category, quantity=quantity, unit_price_cents=item.unit_price_cents,
                                     covered=covered, line_total_cents=total))
            o.total_cents += total
        session.add(o)
        return o

    order("ORD0001228", c5030, admin, date(2026, 5, 4), [("2790B002", 2)])
    order("ORD0001229", c5030, user, date(2026, 6, 15), [("2794B002", 1), ("2798B002", 1)])
    order("ORD0001230", c5560, admin, date(2026, 7, 20), [("0481C002", 2), ("1725B001", 1)])
    order("ORD0001231", c5030, user, date(2026, 8, 11), [("0250A013", 1)])
    order("ORD0001232", other_asset, other_admin, date(2026, 9, 2), [("8524B002", 2)])
    order("ORD0001233", c5030, user, date(2026, 10, 22), [("2790B002", 1), ("FM3-5945-010", 1)])
    order("ORD0001227", c5030, admin, date(2026, 3, 2), [("2802B002", 1)])
    session.flush()
    missing = session.scalars(select(Order).where(Order.number == "ORD0001233")).one()

    # Cases after the seed guide's list: one awaiting the customer (in "Action requise"), an order enquiry,
    # and a general enquiry with the user on its watch list.
    awaiting = case("CS0032499", c5030, "print_quality", "print_scan_copy", "Traînées sur les impressions couleur.",
                    CaseStatus.awaiting_customer, contact=user)
    awaiting.activities.append(CaseActivity(author_id=None, author_name="Canon",
                                            body="Pouvez-vous nous envoyer une page de test imprimée ?"))
    enquiry = case("CS0032500", c5030, "order_enquiry", "missing_items",
                   "[ORD0001233] Le bac de récupération du toner manque à la livraison.", CaseStatus.in_progress,
                   creator=user)
    enquiry.order_id = missing.id
    watched = case("CS0032501", None, "general_enquiry", "general_enquiry",
                   "Merci de mettre à jour le téléphone de SNTestDM DemoPortal.", CaseStatus.new)
    watched.watchers.append(CaseWatcher(user_id=user.id))
    session.add_all([awaiting, enquiry, watched])
    session.add(TrainingRequest(number="TRN0000101", account_id=canon.id, requested_by_id=admin.id,
                                asset_id=c5560.id, topic="Prise en main de l'imprimante iR-ADV C5560i", attendees=4,
                                preferred_date=date(2026, 12, 10), description="Formation pour l'équipe accueil."))


def sync_articles(session: Session, corpus_dir: Path) -> int:
    """Upsert every (article, language) of the corpus; returns how many rows were written."""
    return len(knowledge_admin.sync_articles(session, load_corpus(corpus_dir)).changed)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    settings = get_settings()
    migrate()
    with get_session_factory()() as session:
        if seed_demo(session, settings.demo_password):
            log.info("demo data seeded (users %s and %s)", ADMIN_EMAIL, USER_EMAIL)
        else:
            log.info("database already seeded; demo data left as is")
        log.info("knowledge articles synchronised: %d written", sync_articles(session, settings.knowledge_corpus_dir))


if __name__ == "__main__":
    main()
