"""What each role may do. Every route names the permission it needs; nothing is implied."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    READ_CATALOGUE = "read-catalogue"
    READ_ALL_CONTROLS = "read-all-controls"  # managers see only their team's controls
    READ_TEAM_CONTROLS = "read-team-controls"
    EDIT_CONTROLS = "edit-controls"
    EDIT_MAPPINGS = "edit-mappings"
    APPROVE_MAPPINGS = "approve-mappings"
    READ_AUDIT = "read-audit"
    ADMIN_USERS = "admin-users"
    USE_API = "use-api"


_EVERYONE = {Permission.READ_CATALOGUE, Permission.READ_TEAM_CONTROLS, Permission.USE_API}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "officer": frozenset(
        _EVERYONE
        | {
            Permission.READ_ALL_CONTROLS,
            Permission.EDIT_CONTROLS,
            Permission.EDIT_MAPPINGS,
            Permission.APPROVE_MAPPINGS,
            Permission.READ_AUDIT,
        }
    ),
    "manager": frozenset(_EVERYONE),
    "auditor": frozenset(_EVERYONE | {Permission.READ_ALL_CONTROLS, Permission.READ_AUDIT}),
}

ROLE_DESCRIPTIONS = {
    "admin": "Everything, plus users, roles and API tokens.",
    "officer": "Curates the catalogue, controls and mappings.",
    "manager": "Dashboard and the controls their team owns; read-only otherwise.",
    "auditor": "Reads everything, changes nothing.",
}


def role_can(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
