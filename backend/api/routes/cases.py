from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response

from backend.api.deps import PathId, SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.errors import request_language
from backend.permissions import Allowed, Permission
from backend.schemas import (
    ActivityOut, CaseCreate, CaseMatches, CaseMatchRequest, CaseOut, CommentCreate, WatcherCreate,
)
from backend.services.cases import (
    add_comment, add_watcher, case_to_out, create_case, get_visible_case, list_visible_cases, match_cases,
    remove_watcher,
)
from backend.services.idempotency import run_once

router = APIRouter(prefix="/cases", tags=["cases"], responses=errors(*AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
CaseCreator = Allowed(Permission.GET_HELP, Permission.SUBMIT_REQUESTS)  # the category decides (services/cases.py)
CaseTracker = Allowed(Permission.TRACK_CASES)
CaseNumber = Annotated[str, Path(max_length=20)]


@router.post("", response_model=CaseOut, responses=replayed(CaseOut), status_code=201,
             summary="Create a case (retry-safe with Idempotency-Key)")
def post_case(
    data: CaseCreate, user: CaseCreator, session: SessionDep, request: Request, response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    lang = request_language(request)
    body, created = run_once(session, user, "POST /cases", idempotency_key, data,
                             lambda: case_to_out(create_case(session, user, data), lang))
    answer_replay(response, created)
    return body


@router.get("", response_model=list[CaseOut],
            summary="'Mes listes', newest first: action_required, mine (created by me) or all (default)")
def get_cases(
    user: CaseTracker, session: SessionDep, request: Request,
    list_: Annotated[Literal["action_required", "mine", "all"], Query(alias="list")] = "all",
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many cases")] = 50,
    state: Annotated[Literal["open", "closed"] | None, Query(description="Open (new, in progress, action "
                                                                         "required) or closed (resolved, closed)")] = None,
    asset: Annotated[str | None, Query(max_length=100, description="Only the cases of this device (asset number, "
                                                                   "serial or alias)")] = None,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Skip this many (paging)")] = 0,
) -> list[CaseOut]:
    lang = request_language(request)
    return [case_to_out(c, lang) for c in list_visible_cases(session, user, limit=limit, which=list_, state=state,
                                                             asset=asset, offset=offset)]


@router.post("/match", response_model=CaseMatches,
             summary="Which visible cases a sentence describes ('my ticket about the noise on the 2nd floor copier')")
def post_match(data: CaseMatchRequest, user: CaseTracker, session: SessionDep, request: Request) -> CaseMatches:
    scored, best = match_cases(session, user, data.text)
    lang = request_language(request)
    return CaseMatches(best=best.number if best else None, cases=[case_to_out(c, lang) for c, _ in scored],
                       scores=[score for _, score in scored])


@router.get("/{number}", response_model=CaseOut, summary="One case by number (CS + 7 digits)")
def get_case(number: CaseNumber, user: CaseTracker, session: SessionDep, request: Request) -> CaseOut:
    return case_to_out(get_visible_case(session, user, number), request_language(request))


@router.post("/{number}/comments", response_model=ActivityOut, responses=replayed(ActivityOut), status_code=201,
             summary="Add a comment to a case's activity stream (answers an 'Action requise')")
def post_comment(number: CaseNumber, data: CommentCreate, user: CaseTracker, session: SessionDep,
                 response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    case = get_visible_case(session, user, number)
    body, created = run_once(session, user, f"cases.comments.{case.id}", idempotency_key, data,
                             lambda: ActivityOut.model_validate(add_comment(session, user, case, data.body)))
    answer_replay(response, created)
    return body


@router.post("/{number}/watchers", response_model=CaseOut, responses=replayed(CaseOut), status_code=201,
             summary="Add a secondary contact (watch list): a portal user of the account kept informed")
def post_watcher(number: CaseNumber, data: WatcherCreate, user: CaseTracker, session: SessionDep,
                 request: Request, response: Response, idempotency_key: IdempotencyKey = None) -> dict:
    case = get_visible_case(session, user, number)
    lang = request_language(request)
    body, created = run_once(session, user, f"cases.watchers.{case.id}", idempotency_key, data,
                             lambda: case_to_out(add_watcher(session, case, data.user_id, data.email), lang))
    answer_replay(response, created)
    return body


@router.delete("/{number}/watchers/{user_id}", response_model=CaseOut, summary="Remove a secondary contact")
def delete_watcher(number: CaseNumber, user_id: PathId, user: CaseTracker, session: SessionDep,
                   request: Request) -> CaseOut:
    return case_to_out(remove_watcher(session, get_visible_case(session, user, number), user_id),
                       request_language(request))
