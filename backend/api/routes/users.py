from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from backend.api.deps import CurrentUser, PathId, SessionDep, answer_replay
from backend.api.responses import AUTHENTICATED, errors, replayed
from backend.core.errors import ApiError, request_language
from backend.permissions import USER_MANAGEMENT, Allowed, Permission, permissions_of, restricted_categories
from backend.schemas import (
    InvitationCreate, Label, ManagedUserOut, MessageOut, MyPermissions, PasswordChange, PermissionOut, PersonOut,
    ProfileOut,
    ProfileUpdate, UserOut,
)
from backend.services import users as service
from backend.services.idempotency import run_once

router = APIRouter(prefix="/users", tags=["users"], responses=errors(400, 405, *AUTHENTICATED))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]

UserManager = Allowed(*USER_MANAGEMENT)
Approver = Allowed(Permission.APPROVE_ACCESS_REQUESTS)
Inviter = Allowed(Permission.INVITE_USERS)
Upgrader = Allowed(Permission.UPGRADE_USERS)
Deactivator = Allowed(Permission.DEACTIVATE_USERS)
Resetter = Allowed(Permission.RESET_PASSWORDS)
PasswordChanger = Allowed(Permission.CHANGE_PASSWORD)
NotificationsUser = Allowed(Permission.EMAIL_NOTIFICATIONS)


@router.get("/me", response_model=UserOut, summary="The authenticated user, with role, language and account")
def read_me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/me/permissions", response_model=MyPermissions,
            summary="What the caller's role allows (the seed's 'Rôles utilisateurs' table)")
def read_my_permissions(user: CurrentUser) -> MyPermissions:
    return MyPermissions(
        role=user.role,
        permissions=[PermissionOut(code=p.value, label=Label(**p.label)) for p in Permission
                     if p in permissions_of(user.role)],
        restricted_request_categories=restricted_categories(user.role),
    )


@router.get("/me/administrators", response_model=list[PersonOut],
            summary="The active administrators of my account (whom to ask for what only they may do)")
def read_my_administrators(user: CurrentUser, session: SessionDep) -> list[PersonOut]:
    return [PersonOut.model_validate(admin) for admin in service.account_administrators(session, user)]


@router.get("/me/profile", response_model=ProfileOut, summary="My preferences: language, accessibility, analytics, "
            "e-mail notifications")
def read_profile(user: CurrentUser) -> ProfileOut:
    return ProfileOut.model_validate(user)


@router.patch("/me/profile", response_model=ProfileOut, summary="Change my preferences (only the fields sent)")
def update_profile(data: ProfileUpdate, user: NotificationsUser, session: SessionDep, request: Request) -> ProfileOut:
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise ApiError(422, "validation_error", f"Le champ « {field} » ne peut pas être vide.",
                           f"The field '{field}' cannot be null.", field=field)
        setattr(user, field, value)
    session.commit()
    request.state.lang = user.language
    return ProfileOut.model_validate(user)


@router.post("/me/password", status_code=204, summary="Change my password (current password required)")
def change_password(data: PasswordChange, user: PasswordChanger, session: SessionDep) -> Response:
    service.change_own_password(session, user, data.current_password, data.new_password)
    return Response(status_code=204)


@router.get("", response_model=list[ManagedUserOut], summary="Users of my account with their status (admin)")
def list_users(admin: UserManager, session: SessionDep) -> list[ManagedUserOut]:
    return [service.managed_user_out(u) for u in service.list_account_users(session, admin)]


@router.post("/invitations", response_model=ManagedUserOut, responses=replayed(ManagedUserOut), status_code=201,
             summary="Invite a new user by e-mail (admin): a pending user with a one-time invitation link")
def invite_user(data: InvitationCreate, admin: Inviter, session: SessionDep, response: Response,
                idempotency_key: IdempotencyKey = None) -> dict:
    body, created = run_once(session, admin, "users.invite", idempotency_key, data,
                             lambda: service.managed_user_out(service.invite(session, admin, data)))
    answer_replay(response, created)
    return body


@router.patch("/{user_id}", status_code=405, response_model=MessageOut,
              summary="Not available: a user's name, e-mail or phone change goes through a general request")
def update_user(user_id: str, user: CurrentUser) -> MessageOut:  # any id, "me" included: same answer
    raise ApiError(
        405, "use_general_request",
        "Les coordonnées d'un utilisateur (nom, e-mail, téléphone) ne se modifient pas ici : envoyez une demande "
        "générale (POST /requests, catégorie general_enquiry / general_enquiry).",
        "A user's details (name, e-mail, phone) cannot be changed here: send a general request "
        "(POST /requests, category general_enquiry / general_enquiry).",
    )


@router.post("/{user_id}/approve", response_model=ManagedUserOut, summary="Approve a pending access request (admin)")
def approve_user(user_id: PathId, admin: Approver, session: SessionDep) -> ManagedUserOut:
    return service.managed_user_out(service.approve(session, admin, service.get_account_user(session, admin, user_id)))


@router.post("/{user_id}/reject", response_model=ManagedUserOut, summary="Reject a pending access request (admin)")
def reject_user(user_id: PathId, admin: Approver, session: SessionDep) -> ManagedUserOut:
    return service.managed_user_out(service.reject(session, admin, service.get_account_user(session, admin, user_id)))


@router.post("/{user_id}/upgrade", response_model=ManagedUserOut, summary="Make a user an administrator (admin)")
def upgrade_user(user_id: PathId, admin: Upgrader, session: SessionDep) -> ManagedUserOut:
    return service.managed_user_out(service.upgrade(session, admin, service.get_account_user(session, admin, user_id)))


@router.post("/{user_id}/downgrade", response_model=ManagedUserOut,
             summary="Make an administrator a standard user (admin; never the last active admin)")
def downgrade_user(user_id: PathId, admin: Upgrader, session: SessionDep) -> ManagedUserOut:
    return service.managed_user_out(
        service.downgrade(session, admin, service.get_account_user(session, admin, user_id)))


@router.post("/{user_id}/deactivate", response_model=ManagedUserOut,
             summary="Deactivate a user (admin; not yourself, never the last active admin)")
def deactivate_user(user_id: PathId, admin: Deactivator, session: SessionDep) -> ManagedUserOut:
    return service.managed_user_out(
        service.deactivate(session, admin, service.get_account_user(session, admin, user_id)))


@router.post("/{user_id}/password-reset", response_model=MessageOut, status_code=202,
             summary="Send a user a one-time password reset link (admin; nothing secret is returned)")
def reset_password(user_id: PathId, admin: Resetter, session: SessionDep, request: Request) -> MessageOut:
    service.start_password_reset(session, admin, service.get_account_user(session, admin, user_id))
    fr = "Un lien de réinitialisation du mot de passe a été envoyé à l'utilisateur."
    en = "A password reset link has been sent to the user."
    return MessageOut(code="password_reset_sent", message=fr if request_language(request) == "fr" else en)
