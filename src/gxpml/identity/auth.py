"""Authentication: passwords, lockout, sessions and API tokens, resolved into an :class:`Actor`.

A token reads ``gxpml_<token id>_<secret>``; only the SHA-256 of the secret is stored. Session
tokens end after ``session_timeout_minutes`` without use (21 CFR 11.200: detect session end).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select

from gxpml.canonical import new_id, parse_ts, sha256_hex, utcnow
from gxpml.errors import (
    AccountLocked,
    AuthenticationError,
    PasswordExpired,
    TokenExpired,
)
from gxpml.identity.roles import permissions_for
from gxpml.identity.users import UserStatus, active_roles
from gxpml.store.tables import Token, TokenActivity, User
from gxpml.store.uow import ANONYMOUS, Actor

if TYPE_CHECKING:
    from gxpml.workspace import Workspace

__all__ = ["Authenticator", "SESSION_MAX_HOURS", "parse_token"]

SESSION_MAX_HOURS = 12
_WRONG = "User name or password is wrong. Check both and retry; accounts lock after {n} failed attempts."


def parse_token(token: str) -> tuple[str, str]:
    """Split ``gxpml_<id>_<secret>`` into id and secret."""
    parts = token.strip().split("_", 3)
    if len(parts) != 4 or parts[0] != "gxpml" or parts[1] != "tok":
        raise AuthenticationError("The token is malformed: expected gxpml_tok_<id>_<secret>. Copy it again.")
    return f"tok_{parts[2]}", parts[3]


def new_token_secret(token_id: str) -> tuple[str, str]:
    """A fresh ``(token text, secret hash)`` for ``token_id``."""
    secret = secrets.token_urlsafe(32)
    return f"gxpml_{token_id}_{secret}", sha256_hex(secret)


class Authenticator:
    """Turns credentials into an actor; records failed attempts and locks accounts."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def actor_for_user(self, user_id: str, *, token: Token | None = None) -> Actor:
        with self._ws._db.read() as session:
            user = session.get(User, user_id)
            if user is None or user.status != UserStatus.ACTIVE:
                raise AccountLocked("The account is no longer active. Ask an administrator.")
            roles = set(active_roles(session, user_id))
        if token is not None and token.roles is not None:
            roles &= set(json.loads(token.roles))
        return Actor(
            id=user.id, username=user.username, name=user.full_name, roles=frozenset(roles),
            permissions=permissions_for(frozenset(roles)), token_id=token.id if token else None,
        )

    def check_password(self, username: str, password: str, *, allow_expired: bool = False) -> User:
        """Verify a user's password; count failures and lock the account at the threshold."""
        ws = self._ws
        policy = ws.settings.security
        with ws._db.read() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            with ws._db.transaction(ANONYMOUS, "login.failed") as uow:
                uow.event("login.failed", new={"username": username, "cause": "unknown user"})
            raise AuthenticationError(_WRONG.format(n=policy.lockout_threshold))
        if user.status == UserStatus.DISABLED:
            self._record_refusal(user, "account disabled")
            raise AccountLocked(f"Account {username!r} is disabled. Ask an administrator if this is a mistake.")
        if user.status == UserStatus.LOCKED:
            self._record_refusal(user, "account locked")
            raise AccountLocked(
                f"Account {username!r} is locked after {user.failed_logins} failed logins. "
                f"An administrator can unlock it: gxpml user unlock {username} --reason ..."
            )
        if not ws._passwords.verify(user.password_hash, password):
            self._record_failure(user.id)
            raise AuthenticationError(_WRONG.format(n=policy.lockout_threshold))
        if user.failed_logins:
            with ws._db.transaction(_as_actor(user), "login.succeeded", reason="successful login resets the failure count") as uow:
                fresh = uow.session.get(User, user.id)
                assert fresh is not None
                fresh.failed_logins = 0
        age = utcnow() - user.password_changed_at
        if not allow_expired and policy.password_max_age_days and age > dt.timedelta(days=policy.password_max_age_days):
            raise PasswordExpired(
                f"The password of {username!r} has expired (policy: {policy.password_max_age_days} days). "
                f"Change it with `gxpml user passwd {username}`."
            )
        return user

    def _record_refusal(self, user: User, cause: str) -> None:
        with self._ws._db.transaction(_as_actor(user), "login.failed") as uow:
            uow.event("login.failed", entity_type="user", entity_id=user.id, new={"username": user.username, "cause": cause})

    def _record_failure(self, user_id: str) -> None:
        threshold = self._ws.settings.security.lockout_threshold
        with self._ws._db.transaction(ANONYMOUS, "login.failed", reason="failed login attempt") as uow:
            user = uow.session.get(User, user_id)
            assert user is not None
            user.failed_logins += 1
            if threshold and user.failed_logins >= threshold:
                user.status = UserStatus.LOCKED.value
                uow.session.flush()
                uow.event(
                    "security.alert", entity_type="user", entity_id=user.id,
                    new={"alert": "account locked", "username": user.username, "failed_logins": user.failed_logins},
                    reason=f"{user.failed_logins} failed logins",
                )

    def login(self, username: str, password: str) -> str:
        """Check the password and open a session; returns the session token."""
        user = self.check_password(username, password)
        actor = self.actor_for_user(user.id)
        token = Token(
            id=new_id("tok"), user_id=user.id, kind="session", secret_hash="",
            expires_at=utcnow() + dt.timedelta(hours=SESSION_MAX_HOURS),
        )
        text, token.secret_hash = new_token_secret(token.id)
        with self._ws._db.transaction(actor, "login", claim=True) as uow:
            uow.add(token)
            uow.session.flush()
            uow.session.add(TokenActivity(token_id=token.id, last_used_at=utcnow()))
        return text

    def authenticate(self, token_text: str) -> Actor:
        """The actor a session or API token stands for; refreshes session activity."""
        token_id, secret = parse_token(token_text)
        ws = self._ws
        now = utcnow()
        # Every request of the server comes here: two driver-level queries, no ORM.
        rows = ws._db.query(
            "SELECT t.secret_hash, t.kind, t.roles, t.expires_at, t.revoked_at, a.last_used_at, "
            "u.id, u.username, u.full_name, u.status "
            "FROM tokens t JOIN users u ON u.id = t.user_id "
            "LEFT JOIN token_activity a ON a.token_id = t.id WHERE t.id = ?", (token_id,))
        if not rows or not hmac.compare_digest(rows[0][0], sha256_hex(secret)):
            raise AuthenticationError("The token is not valid. Log in again (gxpml login) or create a new API token.")
        _, kind, scope, expires_at, revoked_at, last_used, user_id, username, full_name, status = rows[0]
        if revoked_at is not None:
            raise TokenExpired(f"Token {token_id} was revoked. Log in again or create a new API token.")
        if expires_at is not None and parse_ts(expires_at) <= now:
            raise TokenExpired(f"Token {token_id} expired at {parse_ts(expires_at).isoformat()}. Log in again or create a new API token.")
        if kind == "session":
            timeout = dt.timedelta(minutes=ws.settings.security.session_timeout_minutes)
            if last_used is None or now - parse_ts(last_used) > timeout:
                raise TokenExpired(
                    f"The session ended after {ws.settings.security.session_timeout_minutes} minutes without activity. "
                    "Log in again: gxpml login --user NAME."
                )
            self._touch(token_id, now)
        if status != UserStatus.ACTIVE:
            raise AccountLocked("The account is no longer active. Ask an administrator.")
        roles = {r for (r,) in ws._db.query(
            "SELECT role FROM role_grants WHERE user_id = ? AND revoked_at IS NULL", (user_id,))}
        if scope is not None:
            roles &= set(json.loads(scope))
        return Actor(id=user_id, username=username, name=full_name, roles=frozenset(roles),
                     permissions=permissions_for(frozenset(roles)), token_id=token_id)

    def token_kind(self, token_id: str) -> str | None:
        with self._ws._db.read() as session:
            token = session.get(Token, token_id)
            return None if token is None else token.kind

    def end_session(self, token_text: str, *, skip: set[str]) -> None:
        """Revoke a stored session token if it is still open (an ended one needs nothing)."""
        try:
            token_id, secret = parse_token(token_text)
        except AuthenticationError:
            return
        if token_id in skip:
            return
        with self._ws._db.read() as session:
            token = session.get(Token, token_id)
        if (token is None or token.kind != "session" or token.revoked_at is not None
                or not hmac.compare_digest(token.secret_hash, sha256_hex(secret))):
            return
        with self._ws._db.transaction(self.actor_for_user(token.user_id, token=token), "token.revoke",
                                      reason="logout") as uow:
            fresh = uow.session.get(Token, token_id)
            assert fresh is not None
            fresh.revoked_at = utcnow()

    def _touch(self, token_id: str, now: dt.datetime) -> None:
        from sqlalchemy import update
        from sqlalchemy.orm import Session

        with Session(self._ws._db.engine) as session, session.begin():
            session.execute(update(TokenActivity).where(TokenActivity.token_id == token_id).values(last_used_at=now))


def _as_actor(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, name=user.full_name)
