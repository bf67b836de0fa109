"""Create/upgrade the schema and seed the demo data taken from the seed guide.

`python -m backend.seed` is idempotent: demo accounts are created only in an empty database; knowledge
articles are synchronised from data/knowledge on every run.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from backend.core.config import REPO_ROOT, get_settings
from backend.core.db import get_session_factory
from backend.core.security import hash_password
from backend.models import (
    Account, Asset, AssetContact, Case, CaseActivity, CaseStatus, Channel, Role, User, UserStatus,
)
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
                    country="Royaume-Uni")
    admin = User(account=canon, email=ADMIN_EMAIL, full_name="SNTest DemoPortal", phone="+44 20 7946 0001",
                 role=Role.admin, language="fr", password_hash=password_hash)
    user = User(account=canon, email=USER_EMAIL, full_name="SNTestDM DemoPortal", phone="+44 20 7946 0002",
                role=Role.user, language="en", password_hash=password_hash)
    inactive = User(account=canon, email="alan.stane@canon-uk-demo.example", full_name="Alan Inactive_Stane",
                    role=Role.user, status=UserStatus.inactive, language="en", password_hash=None)
    c5560 = Asset(account=canon, asset_number="77996101", serial="WHJ01481", model="Canon iR-ADV C5560i",
                  alias="Copieur 2e étage", location="4 Roundwood Avenue, Uxbridge — 2e étage")
    c5030 = Asset(account=canon, asset_number="53463252", serial="GNM75498", model="Canon iR-ADV C5030i",
                  alias=None, location="4 Roundwood Avenue, Uxbridge — Accueil")
    c5560b = Asset(account=canon, asset_number="80145861", serial="WHJ02153", model="Canon iR-ADV C5560i",
                   alias="WHJ02153", location="4 Roundwood Avenue, Uxbridge — 1er étage", emaintenance=True)
    c5030.contacts.append(AssetContact(user=user))
    c5560.contacts.append(AssetContact(user=inactive))

    other = Account(name="NORTHWIND IMPRIMERIE SARL", street="12 rue des Presses", city="Lyon", postcode="69002",
                    country="France")
    other_admin = User(account=other, email=OTHER_ADMIN_EMAIL, full_name="Claire Martin", role=Role.admin,
                       language="fr", password_hash=password_hash)
    other_asset = Asset(account=other, asset_number="91230045", serial="XKL55120", model="Canon iR-ADV C5535i",
                        alias="Atelier", location="12 rue des Presses, Lyon")
    session.add_all([canon, admin, user, inactive, c5560, c5030, c5560b, other, other_admin, other_asset])
    session.flush()

    def case(number, asset, category, subcategory, description, status, creator=admin, contact=None):
        c = Case(number=number, account_id=creator.account_id, asset_id=asset.id if asset else None,
                 category=category, subcategory=subcategory, description=description, status=status,
                 priority=3, created_by_id=creator.id, contact_name=contact or creator.full_name,
                 channel=Channel.portal)
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
             contact="Alan Inactive_Stane"),
        case("CS0031877", other_asset, "paper_jam", "drawer_tray", "Bourrage récurrent dans le tiroir 2.",
             CaseStatus.in_progress, creator=other_admin),
    ])
    session.commit()
    return True


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
