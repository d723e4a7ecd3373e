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
    EDIT_PROFILES = "edit-profiles"  # service profiles (compliance.applicability)
    READ_AUDIT = "read-audit"
    ADMIN_USERS = "admin-users"
    USE_API = "use-api"
    READ_REVIEWS = "read-reviews"  # the change-review queue and feed entries (compliance.reviews)
    TRIAGE_REVIEWS = "triage-reviews"  # move, assign and decide change reviews
    READ_FEEDS = "read-feeds"  # feed sources with their status and errors
    ADMIN_FEEDS = "admin-feeds"  # add, enable, disable and poll feed sources
    RECEIVE_ALERTS = "receive-alerts"  # own alert subscriptions, acknowledgements, calendar
    ADMIN_ALERTS = "admin-alerts"  # the outbox, team mailing lists, escalations


_EVERYONE = {
    Permission.READ_CATALOGUE,
    Permission.READ_TEAM_CONTROLS,
    Permission.USE_API,
    Permission.READ_REVIEWS,
}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "officer": frozenset(
        _EVERYONE
        | {
            Permission.READ_ALL_CONTROLS,
            Permission.EDIT_CONTROLS,
            Permission.EDIT_MAPPINGS,
            Permission.APPROVE_MAPPINGS,
            Permission.EDIT_PROFILES,
            Permission.READ_AUDIT,
            Permission.READ_FEEDS,
            Permission.TRIAGE_REVIEWS,
            Permission.RECEIVE_ALERTS,
        }
    ),
    "manager": frozenset(_EVERYONE | {Permission.RECEIVE_ALERTS}),
    "auditor": frozenset(
        _EVERYONE | {Permission.READ_ALL_CONTROLS, Permission.READ_AUDIT, Permission.READ_FEEDS}
    ),
}

ROLE_DESCRIPTIONS = {
    "admin": "Everything, plus users, roles, API tokens and feed sources.",
    "officer": "Curates the catalogue, controls and mappings; triages regulatory changes.",
    "manager": "Dashboard and the controls their team owns; read-only otherwise.",
    "auditor": "Reads everything, changes nothing.",
}


def role_can(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
