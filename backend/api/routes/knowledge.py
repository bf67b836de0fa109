from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from backend.api.deps import SessionDep, answer_replay, get_current_user, oauth2_scheme
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.security import is_anonymous_assistant_token
from backend.permissions import Allowed, Permission, require
from backend.core.errors import ApiError, not_found, request_language
from backend.models import Asset, Deflection, KnowledgeArticle, User
from backend.schemas import DeflectionCreate, DeflectionOut, KnowledgeArticleOut, KnowledgeHit, Language
from backend.services.assets import (
    find_visible_asset, list_visible_assets, only_visible_asset, resolve_assets_in_text,
)
from backend.services.idempotency import run_once
from backend.services.knowledge import search_articles
from backend.taxonomy import get_taxonomy

router = APIRouter(tags=["knowledge"], responses=errors(*AUTHENTICATED))
HelpUser = Allowed(Permission.GET_HELP)


def knowledge_reader(request: Request, session: SessionDep,
                     token: Annotated[str | None, Depends(oauth2_scheme)]) -> User | None:
    """A user allowed to search, or None for the assistant acting for an unverified phone caller (an anonymous
    assistant token): the articles are the vendor's, public pages (/kb/{number}); nothing of an account is read."""
    if token and is_anonymous_assistant_token(token):
        return None
    user = get_current_user(request, session, token)
    require(user, Permission.SEARCH_KNOWLEDGE)
    return user


KnowledgeReader = Annotated[User | None, Depends(knowledge_reader)]


@router.get("/knowledge/search", response_model=list[KnowledgeHit], summary="Search articles (at least 3 characters)")
def search(
    user: KnowledgeReader,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500)],
    lang: Language | None = None,
    asset: Annotated[str | None, Query(max_length=40, description="Asset number, serial or alias: boosts its model")] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
    tag: Annotated[str | None, Query(max_length=100, description="Prefer articles with this taxonomy tag")] = None,
    my_device: Annotated[bool, Query(description="Without `asset`: boost the model of the caller's device when they "
                                                 "have exactly one (the assistant's questions)")] = False,
) -> list[KnowledgeHit]:
    scope: list[str] | None = None
    if user is None:  # an unverified caller: no device to know of
        device = None
    elif asset:
        device: Asset | None = find_visible_asset(session, user, asset)
    elif my_device:
        # the device the question names ("the C5030 at reception"), else the user's only one; failing both, articles
        # written only for models the user has none of are left out (another product line's steps do not apply)
        named, _ = resolve_assets_in_text(session, user, q)
        device = named[0] if len(named) == 1 else only_visible_asset(session, user)
        if device is None:
            scope = sorted({a.model for a in list_visible_assets(session, user)})
    else:
        device = None
    return search_articles(session, q, lang, device, limit, tag, models_in_scope=scope)


def _article(session: SessionDep, number: str, lang: str) -> KnowledgeArticle:
    rows = session.scalars(select(KnowledgeArticle).where(KnowledgeArticle.number == number.upper())).all()
    if not rows:
        raise not_found(f"Article {number}", f"Article {number}")
    return next((r for r in rows if r.lang == lang), rows[0])


@router.get("/knowledge/articles/{number}", response_model=KnowledgeArticleOut, summary="One article")
def read_article(number: str, session: SessionDep, request: Request, lang: Language | None = None) -> KnowledgeArticleOut:
    return KnowledgeArticleOut.model_validate(_article(session, number, lang or request_language(request)))


@router.get("/kb/{number}", response_class=HTMLResponse, include_in_schema=False)
def article_page(number: str, session: SessionDep, request: Request, lang: Language | None = None) -> HTMLResponse:
    """A readable page for the links the assistant shows."""
    article = _article(session, number, lang or request_language(request))
    e = html.escape
    body = "".join(f"<p>{e(line)}</p>" for line in article.body.splitlines() if line.strip())
    page = (
        f"<!doctype html><html lang='{article.lang}'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{e(article.title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
        "small{color:#555}</style></head><body>"
        f"<small>{e(article.number)}</small><h1>{e(article.title)}</h1><p><strong>{e(article.summary)}</strong></p>"
        f"{body}</body></html>"
    )
    return HTMLResponse(page)


@router.post("/knowledge/deflections", response_model=DeflectionOut, responses=replayed(DeflectionOut), status_code=201,
             summary="Record that knowledge articles solved a problem (no case opened)")
def record_deflection(
    data: DeflectionCreate, user: HelpUser, session: SessionDep, response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
) -> dict:
    body, created = run_once(session, user, "POST /knowledge/deflections", idempotency_key, data,
                             lambda: _record_deflection(session, user, data))
    answer_replay(response, created)
    return body


def _record_deflection(session: SessionDep, user: User, data: DeflectionCreate) -> DeflectionOut:
    if (data.category or data.subcategory) and get_taxonomy().get(data.category or "", data.subcategory or "") is None:
        raise ApiError(
            422, "unknown_category",
            f"Type de demande inconnu : {data.category} / {data.subcategory}.",
            f"Unknown request type: {data.category} / {data.subcategory}.",
        )
    asset = find_visible_asset(session, user, data.asset) if data.asset else None
    deflection = Deflection(
        account_id=user.account_id, user_id=user.id, asset_id=asset.id if asset else None,
        category=data.category, subcategory=data.subcategory, description=data.description.strip(),
        kb_articles_shown=data.kb_articles_shown, channel=data.channel,
    )
    session.add(deflection)
    session.flush()
    return DeflectionOut.model_validate(deflection)
