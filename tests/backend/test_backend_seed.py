"""Demo seed: idempotent, matches the seed guide; knowledge articles sync from data/knowledge."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from backend.core.security import verify_password
from backend.models import (
    Account, Asset, AssetContact, Case, CaseStatus, KnowledgeArticle, Role, User, UserStatus,
)
from backend.seed import seed_demo, sync_articles
from knowledge_index import load_corpus

CORPUS = Path(__file__).resolve().parents[2] / "data" / "knowledge"


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_first_seed_created_the_demo_data(seeded):
    assert seeded["created"] is True


def test_seeding_again_changes_nothing(db, seeded):
    users, accounts, assets = _count(db, User), _count(db, Account), _count(db, Asset)
    assert seed_demo(db, "another-password") is False
    assert (_count(db, User), _count(db, Account), _count(db, Asset)) == (users, accounts, assets)
    assert db.scalar(select(func.count()).select_from(User).where(User.email == "sntestportaldemo@outlook.com")) == 1
    # The existing password is kept.
    admin = db.scalars(select(User).where(User.email == "sntestportaldemo@outlook.com")).one()
    assert verify_password("test-password", admin.password_hash)
    assert not verify_password("another-password", admin.password_hash)


def test_accounts_and_users(db):
    canon = db.scalars(select(Account).where(Account.name == "CANON UK LTD")).one()
    assert (canon.city, canon.postcode) == ("Uxbridge", "UB11 1AF")
    by_email = {u.email: u for u in db.scalars(select(User).where(User.account_id == canon.id))}
    admin = by_email["sntestportaldemo@outlook.com"]
    user = by_email["sntestdemoportaldm@yopmail.com"]
    inactive = by_email["alan.stane@canon-uk-demo.example"]
    assert (admin.role, admin.language, admin.status) == (Role.admin, "fr", UserStatus.active)
    assert (user.role, user.language, user.status) == (Role.user, "en", UserStatus.active)
    assert (inactive.status, inactive.password_hash) == (UserStatus.inactive, None)
    other = db.scalars(select(User).where(User.email == "admin@northwind-imprimerie.fr")).one()
    assert other.account.name == "NORTHWIND IMPRIMERIE SARL"
    assert other.role == Role.admin


def test_assets(db):
    assets = {a.asset_number: a for a in db.scalars(select(Asset))}
    c5560 = assets["77996101"]
    assert (c5560.model, c5560.serial, c5560.alias) == ("Canon iR-ADV C5560i", "WHJ01481", "Copieur 2e étage")
    assert c5560.account.name == "CANON UK LTD"
    assert (assets["53463252"].serial, assets["53463252"].model) == ("GNM75498", "Canon iR-ADV C5030i")
    assert (assets["80145861"].serial, assets["80145861"].emaintenance) == ("WHJ02153", True)
    assert (assets["91230045"].serial, assets["91230045"].account.name) == ("XKL55120", "NORTHWIND IMPRIMERIE SARL")
    user_id = db.scalar(select(User.id).where(User.email == "sntestdemoportaldm@yopmail.com"))
    assigned = db.scalars(select(Asset.asset_number).join(AssetContact).where(AssetContact.user_id == user_id)).all()
    assert assigned == ["53463252"]


def test_seeded_cases(db):
    cases = {c.number: c for c in db.scalars(select(Case).where(Case.number <= "CS0032498"))}
    assert set(cases) == {"CS0032411", "CS0032412", "CS0032413", "CS0032414", "CS0032497", "CS0032498",
                          "CS0031877"}
    last = cases["CS0032498"]
    assert last.status == CaseStatus.closed
    assert (last.category, last.subcategory) == ("malfunction", "unusual_noise")
    assert last.asset.asset_number == "77996101"
    assert last.account_id == last.asset.account_id
    other = cases["CS0031877"]
    assert (other.status, other.asset.serial, other.created_by.email) == (
        CaseStatus.in_progress, "XKL55120", "admin@northwind-imprimerie.fr")
    assert all(len(c.activities) == 1 for c in cases.values())


def test_article_sync(db, seeded):
    corpus = load_corpus(CORPUS)
    assert seeded["articles_written"] == len(corpus) == _count(db, KnowledgeArticle)
    assert {(a.number, a.lang) for a in corpus} == set(
        db.execute(select(KnowledgeArticle.number, KnowledgeArticle.lang)).tuples())
    assert sync_articles(db, CORPUS) == 0


def test_article_sync_repairs_a_changed_row(db):
    row = db.scalars(select(KnowledgeArticle).where(KnowledgeArticle.number == "KB0010001",
                                                    KnowledgeArticle.lang == "en")).one()
    original = row.title
    row.title = "tampered"
    db.commit()
    assert sync_articles(db, CORPUS) == 1
    db.refresh(row)
    assert row.title == original


def test_migrations_match_the_models(seeded):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from backend.core.db import Base, get_engine

    with get_engine().connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
