"""Users, passwords, lockout, sessions, tokens and roles (21 CFR 11.10(d), 11.300)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gxpml.errors import (
    AccountLocked,
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    PasswordExpired,
    PasswordPolicyError,
    PermissionDenied,
    ReasonRequired,
    TokenExpired,
)
from gxpml.workspace import Workspace, session_file
from support import ADMIN_PASSWORD, PASSWORD, raw_execute


def test_the_first_init_creates_an_admin_who_can_log_in(workspace: Workspace, login: Callable[[str, str], Any]) -> None:
    with login("admin", ADMIN_PASSWORD) as ws:
        assert ws.actor.roles == frozenset({"admin"})
        assert ws.actor.name == "Ada Admin"


def test_user_names_are_unique_and_never_reused(workspace: Workspace) -> None:
    workspace.users.add("bob", "Bob Jones", password=PASSWORD)
    workspace.users.disable("bob", reason="left")
    with pytest.raises(Conflict, match="never reused"):
        workspace.users.add("bob", "Robert Other", password=PASSWORD)


@pytest.mark.parametrize(("username", "full_name", "email", "roles", "message"), [
    ("Bob", "Bob", None, [], "not valid"),
    ("bob", "  ", None, [], "printed name is required"),
    ("bob", "Bob", "not-an-email", [], "E-mail address"),
    ("bob", "Bob", None, ["superuser"], "Unknown role 'superuser'"),
])
def test_bad_user_details_are_refused_with_the_reason(workspace: Workspace, username: str, full_name: str, email: str | None, roles: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        workspace.users.add(username, full_name, password=PASSWORD, email=email, roles=roles)


def test_the_password_policy_is_enforced(workspace: Workspace, login: Callable[[str, str], Any]) -> None:
    with pytest.raises(PasswordPolicyError, match="too short: it has 5 characters"):
        workspace.users.add("bob", "Bob", password="short")
    workspace.users.add("bob", "Bob", password=PASSWORD)
    with pytest.raises(PasswordPolicyError, match="used recently"):
        workspace.users.change_password("bob", PASSWORD, PASSWORD)
    workspace.users.change_password("bob", PASSWORD, "a second long passphrase")
    with pytest.raises(AuthenticationError, match="wrong"):
        login("bob", PASSWORD).close()
    login("bob", "a second long passphrase").close()


def test_an_unknown_user_and_a_wrong_password_get_the_same_clear_answer(workspace: Workspace, login: Callable[[str, str], Any], local: Workspace) -> None:
    with pytest.raises(AuthenticationError, match="User name or password is wrong"):
        login("nobody", PASSWORD)
    with pytest.raises(AuthenticationError, match="User name or password is wrong"):
        login("admin", "not the password")
    causes = [e.new["cause"] for e in workspace.audit.log(action="login.failed") if e.new and "cause" in e.new]
    assert causes == ["unknown user"]


def test_failed_logins_lock_the_account_and_raise_an_alert(workspace: Workspace, login: Callable[[str, str], Any], local: Workspace) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD, roles=["reviewer"])
    for _ in range(local.settings.security.lockout_threshold):
        with pytest.raises(AuthenticationError):
            login("bob", "wrong password!!")
    with pytest.raises(AccountLocked, match="locked after 5 failed logins"):
        login("bob", PASSWORD)
    [alert] = workspace.audit.log(action="security.alert")
    assert alert.new is not None and alert.new["alert"] == "account locked"
    assert workspace.users.get("bob").status == "locked"
    workspace.users.unlock("bob", reason="user confirmed identity by phone")
    login("bob", PASSWORD).close()
    assert workspace.users.get("bob").failed_logins == 0
    assert workspace.audit.verify().ok


def test_a_disabled_user_cannot_log_in_or_use_tokens(workspace: Workspace, login: Callable[[str, str], Any], connect: Callable[[str], Any]) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD, roles=["data-scientist"])
    with login("bob", PASSWORD) as bob:
        _, token = bob.tokens.create("laptop")
    workspace.users.disable("bob", reason="left the company")
    with pytest.raises(AccountLocked, match="disabled"):
        login("bob", PASSWORD)
    with pytest.raises(AccountLocked):
        connect(token)


def test_an_expired_password_must_be_changed_before_login(workspace: Workspace, login: Callable[[str, str], Any]) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD)
    workspace.users.reset_password("bob", "temporary passphrase 1", reason="forgot password")
    with pytest.raises(PasswordExpired, match="gxpml user passwd bob"):
        login("bob", "temporary passphrase 1")
    workspace.users.change_password("bob", "temporary passphrase 1", "my own new passphrase")
    login("bob", "my own new passphrase").close()


def test_changes_and_retirements_need_a_reason(workspace: Workspace) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD, roles=["reviewer"])
    with pytest.raises(ReasonRequired):
        workspace.users.disable("bob", reason="")
    with pytest.raises(ReasonRequired):
        workspace.roles.revoke("bob", "reviewer", reason="")
    assert workspace.users.get("bob").status == "active"


def test_unknown_names_are_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="No user named 'ghost'"):
        workspace.users.disable("ghost", reason="x")
    with pytest.raises(NotFound, match="No token"):
        workspace.tokens.revoke("tok_0000000000000000", reason="x")


def test_grants_and_revocations_are_audited_and_take_effect(workspace: Workspace, login: Callable[[str, str], Any]) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD)
    workspace.roles.grant("bob", "auditor", reason="annual audit")
    with login("bob", PASSWORD) as bob:
        assert bob.audit.verify().ok
    workspace.roles.revoke("bob", "auditor", reason="audit finished")
    with login("bob", PASSWORD) as bob:
        with pytest.raises(PermissionDenied):
            bob.audit.verify()
    actions = [e.action for e in workspace.audit.log(entity="role_grant")]
    assert actions[-2:] == ["role.grant", "role.revoke"]
    with pytest.raises(Conflict, match="last active administrator"):
        workspace.roles.revoke("admin", "admin", reason="oops")


def test_api_tokens_are_scoped_expiring_and_revocable(workspace: Workspace, login: Callable[[str, str], Any], connect: Callable[[str], Any], local: Workspace) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD, roles=["data-scientist", "auditor"])
    with login("bob", PASSWORD) as bob:
        with pytest.raises(InvalidInput, match="lacks: admin"):
            bob.tokens.create("too much", roles=["admin"])
        info, token = bob.tokens.create("ci", roles=["data-scientist"], expires_days=30)
    with connect(token) as ci:
        assert ci.actor.roles == frozenset({"data-scientist"})
        with pytest.raises(PermissionDenied):
            ci.audit.export("/dev/null")  # the auditor role is not in the token's scope
    # only the hash is stored
    with local._db.read() as session:
        from gxpml.store.tables import Token

        stored = session.get(Token, info.id)
        assert stored is not None and token.split("_", 3)[3] not in stored.secret_hash
    workspace.tokens.revoke(info.id, reason="laptop lost")
    with pytest.raises(TokenExpired, match="revoked"):
        connect(token)


def test_an_expired_token_is_refused(workspace: Workspace, connect: Callable[[str], Any], local: Workspace) -> None:
    info, token = workspace.tokens.create("short-lived", expires_days=1)
    past = "2020-01-01T00:00:00.000000Z"
    raw_execute(local, f"UPDATE tokens SET expires_at = '{past}' WHERE id = '{info.id}'")
    with pytest.raises(TokenExpired, match="expired"):
        connect(token)


def test_a_malformed_or_forged_token_is_refused(workspace: Workspace, connect: Callable[[str], Any]) -> None:
    info, token = workspace.tokens.create("t")
    with pytest.raises(AuthenticationError, match="malformed"):
        connect("not-a-token")
    with pytest.raises(AuthenticationError, match="not valid"):
        connect(token[:-4] + "AAAA")


def test_a_session_ends_after_inactivity(workspace: Workspace, connect: Callable[[str], Any], local: Workspace) -> None:
    token = workspace.login("admin", ADMIN_PASSWORD)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    token_id = "tok_" + token.split("_")[2]
    raw_execute(local, f"UPDATE token_activity SET last_used_at = '{old}' WHERE token_id = '{token_id}'")
    with pytest.raises(TokenExpired, match="15 minutes without activity"):
        connect(token)


def test_login_remembers_the_session_in_an_owner_only_file(workspace: Workspace, open_client: Callable[..., Any]) -> None:
    workspace.login("admin", ADMIN_PASSWORD, remember=True)
    path = session_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open_client() as again:
        assert again.actor.username == "admin"
        again.logout()
    assert json.loads(path.read_text()) == {}
    with open_client() as anonymous:
        with pytest.raises(AuthenticationError, match="Not logged in"):
            anonymous.users.list()


def test_workspace_files_are_owner_only(local: Workspace) -> None:
    home = local.settings.home
    for path in [home, home / "gxpml.toml", local.settings.signing_key_path, *local.settings.master_keys_dir.iterdir()]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others: {oct(mode)}"


def test_a_corrupt_config_is_a_clear_error(local: Workspace) -> None:
    from gxpml.errors import ConfigError

    config = Path(local.settings.home) / "gxpml.toml"
    config.write_text(config.read_text() + "\n[broken\n")
    with pytest.raises(ConfigError, match=r"is not valid TOML .*Fix the file or restore it"):
        Workspace.open(local.settings.home)
    config.write_text("[workspace]\n")
    with pytest.raises(ConfigError, match="lacks the required setting 'id'"):
        Workspace.open(local.settings.home)


def test_a_missing_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    from gxpml.errors import ConfigError

    with pytest.raises(ConfigError, match="gxpml init"):
        Workspace.open(tmp_path / "nowhere")


def test_passwords_and_token_secrets_never_reach_the_audit_trail(workspace: Workspace) -> None:
    workspace.users.add("bob", "Bob", password=PASSWORD)
    _, token = workspace.tokens.create("t")
    workspace.login("admin", ADMIN_PASSWORD)
    text = json.dumps([e.to_dict() for e in workspace.audit.log(limit=None)])
    assert PASSWORD not in text and ADMIN_PASSWORD not in text
    assert token.split("_", 3)[3] not in text  # the secret: urlsafe base64, which may hold "_" itself
    assert "$argon2id$" not in text


def test_logout_ends_sessions_but_leaves_api_tokens_alone(workspace: Workspace, connect: Callable[[str], Any], open_client: Callable[..., Any]) -> None:
    _, api_token = workspace.tokens.create("ci")
    with connect(api_token) as ci:
        ci.logout()
    with connect(api_token) as ci:
        assert ci.actor.username == "admin"
    session = workspace.login("admin", ADMIN_PASSWORD, remember=True)
    with open_client(anonymous=True) as ws:
        assert not ws.actor.authenticated
        ws.logout()  # also revokes the stored session, though this workspace never used it
    with pytest.raises(TokenExpired, match="revoked"):
        connect(session)
