"""Portal user management by an account's administrators, one-time tokens, password policy and profile."""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.core.config import get_settings
from backend.core.errors import ApiError, not_found
from backend.core.security import hash_password, verify_password
from backend.models import Account, Role, User, UserStatus, UserToken
from backend.schemas import AccessRequestCreate, InvitationCreate, Label, ManagedUserOut
from backend.services.auth import revoke_all

log = logging.getLogger(__name__)

STATUS_LABELS = {
    UserStatus.active: Label(fr="ACTIF", en="ACTIVE"),
    UserStatus.pending: Label(fr="En attente", en="Pending"),
    UserStatus.inactive: Label(fr="Inactif", en="Inactive"),
}
TOKEN_LIFETIME = {"invitation": timedelta(days=7), "password_reset": timedelta(hours=24)}
# A public access request waits with this origin until its e-mail address is verified (the link sent to it):
# administrators neither see nor approve it before.
UNVERIFIED_REQUEST = "unverified_request"
ACCESS_REQUEST = "access_request"
MIN_PASSWORD_LENGTH = 10


def managed_user_out(user: User) -> ManagedUserOut:
    return ManagedUserOut(id=user.id, email=user.email, full_name=user.full_name, phone=user.phone, role=user.role,
                          status=user.status, status_label=STATUS_LABELS[user.status], origin=user.origin,
                          created_at=user.created_at)


def _verified(query):
    return query.where(or_(User.origin.is_(None), User.origin != UNVERIFIED_REQUEST))


def list_account_users(session: Session, admin: User) -> list[User]:
    """The account's users, access requests whose e-mail is not verified yet left out."""
    return list(session.scalars(_verified(select(User).where(User.account_id == admin.account_id))
                                .order_by(User.full_name)))


def get_account_user(session: Session, admin: User, user_id: int) -> User:
    """A user of the admin's account; another account's user and an unverified access request are unknown."""
    user = session.get(User, user_id)
    if user is None or user.account_id != admin.account_id or user.origin == UNVERIFIED_REQUEST:
        raise not_found(f"Utilisateur {user_id}", f"User {user_id}")
    return user


def check_password_policy(password: str, email: str = "") -> None:
    """At least 10 characters with a letter and a digit, and not the e-mail's name part."""
    local = email.split("@")[0].lower()
    weak = (len(password) < MIN_PASSWORD_LENGTH or not any(c.isalpha() for c in password)
            or not any(c.isdigit() for c in password) or (len(local) >= 4 and local in password.lower()))
    if weak:
        raise ApiError(
            422, "weak_password",
            f"Mot de passe trop faible : au moins {MIN_PASSWORD_LENGTH} caractères, avec au moins une lettre et un "
            "chiffre, sans reprendre votre adresse e-mail.",
            f"Password too weak: at least {MIN_PASSWORD_LENGTH} characters, with at least one letter and one digit, "
            "not containing your e-mail address.",
            field="new_password",
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, purpose: str) -> str:
    """Create a one-time token (only its hash is stored); earlier unused tokens of the same purpose are voided."""
    now = datetime.now(UTC)
    for old in session.scalars(select(UserToken).where(UserToken.user_id == user.id, UserToken.purpose == purpose,
                                                       UserToken.used_at.is_(None))):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    lifetime = TOKEN_LIFETIME.get(purpose) or timedelta(hours=get_settings().access_request_verification_hours)
    session.add(UserToken(user_id=user.id, purpose=purpose, token_hash=_hash_token(token),
                          expires_at=now + lifetime))
    return token


def _consume_token(session: Session, token: str, purpose: str) -> User:
    row = session.scalars(select(UserToken).where(UserToken.token_hash == _hash_token(token),
                                                  UserToken.purpose == purpose)).first()
    now = datetime.now(UTC)
    if row is None or row.used_at is not None or row.expires_at < now:
        raise ApiError(400, "invalid_token", "Ce lien n'est pas valide ou a expiré.",
                       "This link is invalid or has expired.")
    row.used_at = now
    return row.user


def _registered_elsewhere(session: Session, email: str, user: User) -> bool:
    """Whether another portal user than `user` (a pending invitation) has the address: an access, or a request."""
    return session.scalar(select(User.id).where(
        func.lower(User.email) == email.lower(), User.id != user.id,
        or_(User.status != UserStatus.pending, User.origin.is_(None), User.origin != "invitation"))) is not None


def invite(session: Session, admin: User, data: InvitationCreate) -> User:
    """A pending user of the admin's account with a one-time invitation link. Only the admin's own account is
    looked at: an address another account's user has is invited like any other (the answer must not tell an
    administrator who is a customer elsewhere); that invitation can never be accepted (accept_invitation)."""
    email = data.email
    unverified = session.scalars(select(User).where(func.lower(User.email) == email,
                                                    User.origin == UNVERIFIED_REQUEST)).first()
    if unverified is not None:  # an access request nobody confirmed: the invitation takes its place
        session.delete(unverified)
        session.flush()
    if session.scalar(select(User.id).where(func.lower(User.email) == email,
                                            User.account_id == admin.account_id)) is not None:
        raise ApiError(409, "email_taken", "Un utilisateur de votre compte a déjà cette adresse e-mail.",
                       "A user of your account already has this e-mail address.", field="email")
    user = User(account_id=admin.account_id, email=email, full_name=data.full_name.strip(), phone=data.phone.strip(),
                role=Role.user, status=UserStatus.pending, origin="invitation", language=admin.language,
                password_hash=None)
    session.add(user)
    session.flush()
    token = issue_token(session, user, "invitation")
    # Demo: no e-mail is sent; the link is only written to the server log.
    log.info("invitation link for %s: /auth/invitations/accept?token=%s", email, token)
    return user


def request_access(session: Session, data: AccessRequestCreate) -> None:
    """A public access request: a pending user on the named account, shown to its administrators once the e-mail
    address is verified (a one-time link sent to it). The answer never says whether the e-mail or the company is
    known; asking again before verifying sends a new link."""
    account = session.scalars(select(Account).where(func.lower(Account.name) == data.company.strip().lower())).first()
    known = session.scalars(select(User).where(func.lower(User.email) == data.email)).first()
    if account is None or (known is not None and known.origin != UNVERIFIED_REQUEST):
        log.info("access request for %s not recorded (unknown company or e-mail already registered)", data.email)
        return
    user = known
    if user is None:
        user = User(account_id=account.id, email=data.email, full_name=data.full_name.strip(),
                    phone=data.phone.strip(), role=Role.user, status=UserStatus.pending, origin=UNVERIFIED_REQUEST,
                    password_hash=None)
        session.add(user)
        session.flush()
    token = issue_token(session, user, "verify_email")
    session.commit()
    # Demo: no e-mail is sent; the link is only written to the server log.
    log.info("access request of %s: e-mail verification link /access-requests/verify?token=%s", data.email, token)


def verify_access_request(session: Session, token: str) -> None:
    """The requester followed the link sent to their address: the request now goes to the administrators."""
    user = _consume_token(session, token, "verify_email")
    if user.origin == UNVERIFIED_REQUEST:
        user.origin = ACCESS_REQUEST
    session.commit()


def _pending(user: User) -> None:
    if user.status != UserStatus.pending:
        raise ApiError(409, "not_pending", "Cet utilisateur n'a pas de demande d'accès en attente.",
                       "This user has no pending access request.")


def approve(session: Session, admin: User, user: User) -> User:
    _pending(user)
    user.status = UserStatus.active
    if user.password_hash is None:  # they choose a password through a one-time link
        token = issue_token(session, user, "password_reset")
        log.info("access approved for %s; set-password link: /auth/password-reset/confirm?token=%s", user.email, token)
    session.commit()
    return user


def reject(session: Session, admin: User, user: User) -> User:
    _pending(user)
    user.status = UserStatus.inactive
    revoke_all(session, user)
    session.commit()
    return user


def account_administrators(session: Session, user: User) -> list[User]:
    """The active administrators of the user's account: who a `user` must ask for admin-only requests."""
    return list(session.scalars(select(User).where(
        User.account_id == user.account_id, User.role == Role.admin, User.status == UserStatus.active,
    ).order_by(User.full_name)))


def _active_admins(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.account_id == account_id, User.role == Role.admin, User.status == UserStatus.active)) or 0


def _not_last_admin(session: Session, user: User) -> None:
    if user.role == Role.admin and user.status == UserStatus.active and _active_admins(session, user.account_id) <= 1:
        raise ApiError(409, "last_admin", "C'est le dernier administrateur actif du compte : nommez-en un autre d'abord.",
                       "This is the account's last active administrator: appoint another one first.")


def upgrade(session: Session, admin: User, user: User) -> User:
    if user.status != UserStatus.active:
        raise ApiError(409, "not_active", "Seul un utilisateur actif peut devenir administrateur.",
                       "Only an active user can become an administrator.")
    user.role = Role.admin
    session.commit()
    return user


def downgrade(session: Session, admin: User, user: User) -> User:
    _not_last_admin(session, user)
    user.role = Role.user
    session.commit()
    return user


def deactivate(session: Session, admin: User, user: User) -> User:
    if user.id == admin.id:
        raise ApiError(409, "cannot_deactivate_self", "Vous ne pouvez pas désactiver votre propre accès.",
                       "You cannot deactivate your own access.")
    _not_last_admin(session, user)
    user.status = UserStatus.inactive
    revoke_all(session, user)
    session.commit()
    return user


def start_password_reset(session: Session, admin: User, user: User) -> None:
    if user.status == UserStatus.inactive:
        raise ApiError(409, "user_inactive", "Cet utilisateur est désactivé.", "This user is deactivated.")
    token = issue_token(session, user, "password_reset")
    revoke_all(session, user)  # the sessions of whoever may know the old password end now
    session.commit()
    # Demo: the link is only written to the server log (never in the API answer).
    log.info("password reset link for %s: /auth/password-reset/confirm?token=%s", user.email, token)


def confirm_password_reset(session: Session, token: str, new_password: str) -> None:
    user = _consume_token(session, token, "password_reset")
    check_password_policy(new_password, user.email)
    user.password_hash = hash_password(new_password)
    revoke_all(session, user)
    session.commit()


def accept_invitation(session: Session, token: str, new_password: str) -> None:
    user = _consume_token(session, token, "invitation")
    if _registered_elsewhere(session, user.email, user):  # told to the address's owner, who follows the link
        raise ApiError(409, "email_registered",
                       "Cette adresse e-mail a déjà un accès au portail : connectez-vous avec elle, ou demandez à "
                       "l'administrateur qui vous a invité d'utiliser une autre adresse.",
                       "This e-mail address already has access to the portal: log in with it, or ask the "
                       "administrator who invited you to use another address.")
    check_password_policy(new_password, user.email)
    user.password_hash = hash_password(new_password)
    if user.status == UserStatus.pending:
        user.status = UserStatus.active
    session.commit()


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    if not verify_password(current, user.password_hash):
        raise ApiError(400, "wrong_password", "Le mot de passe actuel est incorrect.",
                       "The current password is incorrect.", field="current_password")
    check_password_policy(new, user.email)
    user.password_hash = hash_password(new)
    revoke_all(session, user)
    session.commit()
