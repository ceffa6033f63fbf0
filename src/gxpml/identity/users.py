"""Users: unique people with a printed name, a password and a status."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gxpml.canonical import parse_ts, utcnow
from gxpml.errors import Conflict, InvalidInput, NotFound, ReasonRequired
from gxpml.identity.roles import ROLES
from gxpml.store.tables import RoleGrant, User

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["UserInfo", "UserStatus", "Users"]

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserStatus(StrEnum):
    ACTIVE = "active"  # may log in
    LOCKED = "locked"  # too many failed logins; an administrator unlocks
    DISABLED = "disabled"  # retired by an administrator, with a reason; never deleted


@dataclass(frozen=True)
class UserInfo:
    """A user as the SDK returns it (no secrets)."""

    id: str
    username: str
    full_name: str
    email: str | None
    status: str
    roles: tuple[str, ...]
    created_at: dt.datetime
    password_changed_at: dt.datetime
    failed_logins: int

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "username": self.username, "full_name": self.full_name,
            "email": self.email, "status": self.status, "roles": list(self.roles),
            "created_at": self.created_at.isoformat(), "failed_logins": self.failed_logins,
            "password_changed_at": self.password_changed_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserInfo:
        return cls(
            id=data["id"], username=data["username"], full_name=data["full_name"], email=data["email"],
            status=data["status"], roles=tuple(data["roles"]), created_at=parse_ts(data["created_at"]),
            password_changed_at=parse_ts(data["password_changed_at"]), failed_logins=data["failed_logins"],
        )


def active_roles(session: Session, user_id: str) -> tuple[str, ...]:
    rows = session.scalars(
        select(RoleGrant.role).where(RoleGrant.user_id == user_id, RoleGrant.revoked_at.is_(None))
    )
    return tuple(sorted(set(rows)))


def find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFound(f"No user named {username!r}. List users with `gxpml user list`.")
    return user


def _info(session: Session, user: User) -> UserInfo:
    return UserInfo(
        id=user.id, username=user.username, full_name=user.full_name, email=user.email,
        status=user.status, roles=active_roles(session, user.id), created_at=user.created_at,
        password_changed_at=user.password_changed_at, failed_logins=user.failed_logins,
    )


def validate_new_user(username: str, full_name: str, email: str | None, roles: list[str]) -> None:
    if not _USERNAME.match(username):
        raise InvalidInput(
            f"User name {username!r} is not valid: use 2-64 lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter."
        )
    if not full_name.strip():
        raise InvalidInput("A printed name is required (it appears on every signature): pass full_name.")
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput(f"E-mail address {email!r} is not valid.")
    for role in roles:
        check_role(role)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}. Built-in roles: {', '.join(ROLES)}.")


class Users:
    """``ws.users``: add, list, show, disable, enable, unlock, change and reset passwords."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def add(
        self, username: str, full_name: str, *, password: str, email: str | None = None,
        roles: list[str] | tuple[str, ...] = (),
    ) -> UserInfo:
        """Create a user (administrators only) with an initial password and roles."""
        roles = list(roles)
        validate_new_user(username, full_name, email, roles)
        ws = self._ws
        ws._db.authorize(ws.actor, "user.create")
        ws._passwords.check_new(password, username=username)
        password_hash = ws._passwords.hash(password)
        with ws._db.write(ws.actor, "user.create") as uow:
            if uow.session.scalars(select(User.id).where(User.username == username)).first():
                raise Conflict(f"A user named {username!r} exists already; user names are never reused.")
            user = User(
                username=username, full_name=full_name.strip(), email=email,
                password_hash=password_hash, password_history=ws._passwords.remember("[]", password_hash),
            )
            uow.add(user)
            uow.session.flush()
            for role in sorted(set(roles)):
                uow.add(RoleGrant(user_id=user.id, role=role))
            uow.session.flush()
            return _info(uow.session, user)

    def get(self, username: str) -> UserInfo:
        ws = self._ws
        if username != ws.actor.username:
            ws._db.authorize(ws.actor, "user.list")
        with ws._db.read() as session:
            return _info(session, find_user(session, username))

    def list(self) -> list[UserInfo]:
        ws = self._ws
        ws._db.authorize(ws.actor, "user.list")
        with ws._db.read() as session:
            users = session.scalars(select(User).order_by(User.username)).all()
            return [_info(session, u) for u in users]

    def _set_status(self, username: str, status: UserStatus, action: str, reason: str | None) -> UserInfo:
        if not reason:
            raise ReasonRequired(f"{action} needs a reason (Annex 11 §9): pass reason=... or --reason.")
        ws = self._ws
        with ws._db.write(ws.actor, action, reason=reason) as uow:
            user = find_user(uow.session, username)
            if user.status == status:
                raise Conflict(f"User {username!r} is already {status}.")
            if status != UserStatus.ACTIVE and user.id == ws.actor.id:
                raise Conflict("You cannot disable your own account; ask another administrator.")
            user.status = status.value
            if status == UserStatus.ACTIVE:
                user.failed_logins = 0
            uow.session.flush()
            return _info(uow.session, user)

    def disable(self, username: str, *, reason: str) -> UserInfo:
        """Retire a user: they can no longer log in; their records and history remain."""
        return self._set_status(username, UserStatus.DISABLED, "user.disable", reason)

    def enable(self, username: str, *, reason: str) -> UserInfo:
        return self._set_status(username, UserStatus.ACTIVE, "user.enable", reason)

    def unlock(self, username: str, *, reason: str) -> UserInfo:
        """Unlock an account locked after failed logins."""
        return self._set_status(username, UserStatus.ACTIVE, "user.unlock", reason)

    def change_password(self, username: str, old_password: str, new_password: str) -> None:
        """A user changes their own password; works with an expired password too."""
        ws = self._ws
        user = ws._auth.check_password(username, old_password, allow_expired=True)
        ws._passwords.check_new(new_password, username=username, history_json=user.password_history)
        self._store_password(user.id, new_password, "user.passwd", "password changed by its owner",
                             actor=ws._auth.actor_for_user(user.id))

    def reset_password(self, username: str, new_password: str, *, reason: str) -> None:
        """An administrator sets a temporary password; the user must change it at next login."""
        if not reason:
            raise ReasonRequired("A password reset needs a reason: pass reason=... or --reason.")
        ws = self._ws
        ws._db.authorize(ws.actor, "user.reset_password")
        ws._passwords.check_new(new_password, username=username)
        with ws._db.read() as session:
            user_id = find_user(session, username).id
        self._store_password(user_id, new_password, "user.reset_password", reason, actor=ws.actor, expired=True)

    def _store_password(self, user_id: str, password: str, action: str, reason: str, *, actor, expired: bool = False) -> None:  # type: ignore[no-untyped-def]
        ws = self._ws
        password_hash = ws._passwords.hash(password)
        with ws._db.transaction(actor, action, reason=reason, claim=True) as uow:
            user = uow.session.get(User, user_id)
            assert user is not None
            user.password_hash = password_hash
            user.password_history = ws._passwords.remember(user.password_history, password_hash)
            user.password_changed_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) if expired else utcnow()
