"""The seed's "Rôles utilisateurs" table, in one place: what an Administrateur and a Utilisateur may do.

Every route declares the permission it needs with `Allowed(Permission.X)` (an Annotated dependency giving
the authenticated user); the seed's asterisk (a Utilisateur cannot submit contract or invoice questions nor
product-move requests) is `check_case_category`, driven by the taxonomy's `admin_only` flag.
"""
from __future__ import annotations

import enum
from typing import Annotated

from fastapi import Depends

from backend.api.deps import CurrentUser
from backend.core.errors import ApiError
from backend.models import Role, User
from backend.taxonomy import get_taxonomy


class Permission(str, enum.Enum):
    """One member per row of the seed's table; `label` gives the row's text (fr as in the seed, en ours)."""

    SEARCH_KNOWLEDGE = "search_knowledge"
    GET_HELP = "get_help"
    SUBMIT_REQUESTS = "submit_requests"
    PLACE_ORDERS = "place_orders"
    METER_READINGS = "meter_readings"
    VIEW_ASSETS = "view_assets"
    TRACK_CASES = "track_cases"
    CHANGE_PASSWORD = "change_password"
    EMAIL_NOTIFICATIONS = "email_notifications"
    APPROVE_ACCESS_REQUESTS = "approve_access_requests"
    INVITE_USERS = "invite_users"
    ADD_CONTACTS = "add_contacts"
    ADD_ASSET_CONTACTS = "add_asset_contacts"
    UPGRADE_USERS = "upgrade_users"
    DEACTIVATE_USERS = "deactivate_users"
    RESET_PASSWORDS = "reset_passwords"

    @property
    def label(self) -> dict[str, str]:
        return PERMISSION_LABELS[self]


PERMISSION_LABELS: dict[Permission, dict[str, str]] = {
    Permission.SEARCH_KNOWLEDGE: {"fr": "Effectuer des recherches dans la bibliothèque de savoir-faire",
                                  "en": "Search the knowledge library"},
    Permission.GET_HELP: {"fr": "Obtenir de l'aide pour résoudre les problèmes", "en": "Get help to solve problems"},
    Permission.SUBMIT_REQUESTS: {"fr": "Envoyer des demandes", "en": "Submit requests"},
    Permission.PLACE_ORDERS: {"fr": "Passer des commandes de consommables ou de formation",
                              "en": "Order consumables or training"},
    Permission.METER_READINGS: {"fr": "Soumettre ou demander des relevés de compteurs",
                                "en": "Submit or query meter readings"},
    Permission.VIEW_ASSETS: {"fr": "Vérifier des informations sur une ressource", "en": "Check asset information"},
    Permission.TRACK_CASES: {"fr": "Suivre des dossiers", "en": "Track cases"},
    Permission.CHANGE_PASSWORD: {"fr": "Modifier le mot de passe", "en": "Change password"},
    Permission.EMAIL_NOTIFICATIONS: {"fr": "Activer ou désactiver les notifications par e-mail",
                                     "en": "Turn e-mail notifications on or off"},
    Permission.APPROVE_ACCESS_REQUESTS: {"fr": "Autoriser les demandes d'inscription", "en": "Approve access requests"},
    Permission.INVITE_USERS: {"fr": "Inviter de nouveaux utilisateurs à s'enregistrer",
                              "en": "Invite new users to register"},
    Permission.ADD_CONTACTS: {"fr": "Ajouter de nouveaux contacts", "en": "Add new contacts"},
    Permission.ADD_ASSET_CONTACTS: {"fr": "Ajouter des contacts aux appareils", "en": "Add contacts to devices"},
    Permission.UPGRADE_USERS: {"fr": "Mettre à jour les privilèges utilisateur (du client à l'administrateur)",
                               "en": "Update user privileges (customer to administrator)"},
    Permission.DEACTIVATE_USERS: {"fr": "Désactiver les utilisateurs", "en": "Deactivate users"},
    Permission.RESET_PASSWORDS: {"fr": "Réinitialiser les mots de passe", "en": "Reset passwords"},
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.user: frozenset({
        Permission.SEARCH_KNOWLEDGE, Permission.GET_HELP, Permission.SUBMIT_REQUESTS, Permission.PLACE_ORDERS,
        Permission.METER_READINGS, Permission.VIEW_ASSETS, Permission.TRACK_CASES, Permission.CHANGE_PASSWORD,
        Permission.EMAIL_NOTIFICATIONS,
    }),
}
# Permissions that grant managing the account's users (any of them lets an admin list the users).
USER_MANAGEMENT = (Permission.APPROVE_ACCESS_REQUESTS, Permission.INVITE_USERS, Permission.UPGRADE_USERS,
                   Permission.DEACTIVATE_USERS, Permission.RESET_PASSWORDS)


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def has_permission(user: User, permission: Permission) -> bool:
    return permission in permissions_of(user.role)


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "Votre rôle ne permet pas cette action. Contactez votre administrateur.",
                    "Your role does not allow this action. Please contact your administrator.")


def require(user: User, *permissions: Permission) -> None:
    """Raise 403 unless the user has at least one of the permissions."""
    if not any(has_permission(user, p) for p in permissions):
        raise forbidden()


def restricted_categories(role: Role) -> list[str]:
    """Request categories the role may not submit (the seed's asterisk)."""
    if role == Role.admin:
        return []
    return [c.code for c in get_taxonomy().categories.values() if c.admin_only]


def check_case_category(user: User, category: str) -> None:
    """A case of this category needs the matching permission; admin-only categories need an admin."""
    found = get_taxonomy().categories.get(category)
    if found is None:
        return  # the caller reports the unknown category
    needed = {"faults": Permission.GET_HELP, "requests": Permission.SUBMIT_REQUESTS}.get(found.section)
    if category == "meter_reading":
        needed = Permission.METER_READINGS
    elif category == "order_enquiry":
        needed = Permission.PLACE_ORDERS
    if needed is not None:
        require(user, needed)
    if category in restricted_categories(user.role):
        raise ApiError(
            403, "forbidden_for_role",
            "Seul un administrateur peut soumettre ce type de demande.",
            "Only an administrator can submit this type of request.",
        )


def require_permission(*permissions: Permission):
    """Dependency factory: the authenticated user, when they have one of the permissions (else 403)."""

    def dependency(user: CurrentUser) -> User:
        require(user, *permissions)
        return user

    dependency.__name__ = "require_" + "_or_".join(p.value for p in permissions)
    return Depends(dependency)


def Allowed(*permissions: Permission):  # noqa: N802 (reads like a type in signatures)
    """`user: Allowed(Permission.INVITE_USERS)` in a route signature."""
    return Annotated[User, require_permission(*permissions)]
