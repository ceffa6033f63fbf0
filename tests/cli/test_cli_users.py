"""``gxpml user ...`` and ``gxpml role ...``."""

from __future__ import annotations

from gxpml.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    PasswordPolicyError,
    PermissionDenied,
)
from support import ADMIN_PASSWORD, PASSWORD

AUTH = AuthenticationError.exit_code
NEW_PASSWORD = "another long passphrase"


def test_user_add_takes_the_new_password_from_gxpml_new_password(admin) -> None:
    # GXPML_PASSWORD holds the acting administrator's password; it must not become Bob's.
    env = {"GXPML_PASSWORD": ADMIN_PASSWORD, "GXPML_NEW_PASSWORD": PASSWORD}
    result = admin("user", "add", "bob", "--name", "Bob Jones", "--email", "bob@example.com",
                   "--role", "reviewer", "--role", "operator", env=env)
    assert "Added user bob (Bob Jones) with roles: operator, reviewer" in result.stdout
    assert PASSWORD not in result.output
    admin("login", "--user", "bob", env={"GXPML_PASSWORD": ADMIN_PASSWORD}, code=AUTH)
    admin("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD})


def test_user_add_prompts_twice_for_the_password(admin) -> None:
    admin("user", "add", "bob", "--name", "Bob Jones", input=f"{PASSWORD}\n{PASSWORD}\n")
    admin("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD})


def test_user_add_reports_what_the_sdk_refuses(admin) -> None:
    env = {"GXPML_NEW_PASSWORD": PASSWORD}
    admin("user", "add", "Bob!", "--name", "Bob Jones", env=env, code=InvalidInput.exit_code)
    admin("user", "add", "bob", "--name", "Bob Jones", "--role", "superuser", env=env, code=InvalidInput.exit_code)
    admin("user", "add", "bob", "--name", "Bob Jones", env={"GXPML_NEW_PASSWORD": "short"}, code=PasswordPolicyError.exit_code)
    admin("user", "add", "admin", "--name", "Again", env=env, code=Conflict.exit_code)


def test_only_administrators_add_users(cli, login, add_user) -> None:
    add_user("rita", "reviewer")
    login("rita", PASSWORD)
    result = cli("user", "add", "bob", "--name", "Bob Jones", env={"GXPML_NEW_PASSWORD": PASSWORD},
                 code=PermissionDenied.exit_code)
    assert result.stderr.startswith("Error:")


def test_user_list_and_show(admin, add_user) -> None:
    add_user("bob", "reviewer")
    users = admin.json("user", "list")
    assert [u["username"] for u in users] == ["admin", "bob"]
    assert "password_hash" not in users[0]
    bob = admin.json("user", "show", "bob")
    assert (bob["full_name"], bob["status"], bob["roles"]) == ("Bob Tester", "active", ["reviewer"])
    table = admin("user", "list").stdout
    assert "Bob Tester" in table and "reviewer" in table
    assert "Bob Tester" in admin("user", "show", "bob").stdout
    admin("user", "show", "nobody", code=NotFound.exit_code)


def test_disable_and_enable_need_a_reason_and_are_audited(admin, add_user) -> None:
    add_user("bob", "reviewer")
    admin("user", "disable", "bob", code=2)
    admin("user", "disable", "bob", "--reason", "", code=InvalidInput.exit_code)
    assert "now disabled" in admin("user", "disable", "bob", "--reason", "left the company").stdout
    assert admin.json("user", "show", "bob")["status"] == "disabled"
    admin("user", "disable", "bob", "--reason", "again", code=Conflict.exit_code)
    assert "now active" in admin("user", "enable", "bob", "--reason", "came back").stdout
    reasons = [e["reason"] for e in admin.json("audit", "log", "--entity", "user")]
    assert "left the company" in reasons and "came back" in reasons


def test_passwd_changes_ones_own_password(cli, add_user) -> None:
    add_user("bob", "reviewer")
    result = cli("user", "passwd", "bob", env={"GXPML_PASSWORD": PASSWORD, "GXPML_NEW_PASSWORD": NEW_PASSWORD})
    assert "Changed the password of bob" in result.stdout
    cli("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD}, code=AUTH)
    cli("login", "--user", "bob", env={"GXPML_PASSWORD": NEW_PASSWORD})


def test_passwd_prompts_for_the_old_password_once_and_the_new_one_twice(cli, add_user) -> None:
    add_user("bob", "reviewer")
    cli("user", "passwd", "bob", input=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    cli("login", "--user", "bob", env={"GXPML_PASSWORD": NEW_PASSWORD})


def test_passwd_with_a_wrong_old_password_changes_nothing(cli, add_user) -> None:
    add_user("bob", "reviewer")
    cli("user", "passwd", "bob", env={"GXPML_PASSWORD": "wrong guess", "GXPML_NEW_PASSWORD": NEW_PASSWORD}, code=AUTH)
    cli("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD})


def test_a_reset_password_must_be_changed_before_the_next_login(admin, add_user) -> None:
    add_user("bob", "reviewer")
    admin("user", "passwd", "bob", "--reset", env={"GXPML_NEW_PASSWORD": "temporary passphrase"}, code=2)
    result = admin("user", "passwd", "bob", "--reset", "--reason", "forgotten",
                   env={"GXPML_NEW_PASSWORD": "temporary passphrase"})
    assert "temporary password" in result.stdout
    assert "temporary passphrase" not in result.output
    result = admin("login", "--user", "bob", env={"GXPML_PASSWORD": "temporary passphrase"}, code=AUTH)
    assert "has expired" in result.stderr
    admin("user", "passwd", "bob", env={"GXPML_PASSWORD": "temporary passphrase", "GXPML_NEW_PASSWORD": NEW_PASSWORD})
    admin("login", "--user", "bob", env={"GXPML_PASSWORD": NEW_PASSWORD})


def test_roles_are_granted_revoked_and_listed(admin, add_user) -> None:
    add_user("bob", "reviewer")
    assert "Granted role auditor to bob" in admin("role", "grant", "bob", "auditor").stdout
    assert admin.json("user", "show", "bob")["roles"] == ["auditor", "reviewer"]
    admin("role", "grant", "bob", "auditor", code=Conflict.exit_code)
    admin("role", "revoke", "bob", "reviewer", code=2)
    admin("role", "revoke", "bob", "reviewer", "--reason", "moved to audit")
    assert admin.json("user", "show", "bob")["roles"] == ["auditor"]
    admin("role", "grant", "bob", "wizard", code=InvalidInput.exit_code)


def test_role_list_shows_each_role_with_its_permissions(cli) -> None:
    roles = cli.json("role", "list")
    assert roles["admin"] == ["*"]
    assert "audit.verify" in roles["auditor"]
    assert "audit.export" in cli("role", "list").stdout
