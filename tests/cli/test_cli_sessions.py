"""``gxpml login``, ``logout``, ``whoami``: sessions stored for the machine, or GXPML_TOKEN."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gxpml.config import load_settings
from gxpml.errors import AuthenticationError
from gxpml.workspace import Workspace, session_file
from support import ADMIN_PASSWORD, PASSWORD

AUTH = AuthenticationError.exit_code


def test_login_stores_a_session_that_later_commands_act_as(cli) -> None:
    result = cli("login", "--user", "admin", env={"GXPML_PASSWORD": ADMIN_PASSWORD})
    assert "Logged in as admin (Ada Admin)" in result.stdout
    assert ADMIN_PASSWORD not in result.output
    me = cli.json("whoami")
    assert (me["username"], me["name"], me["roles"]) == ("admin", "Ada Admin", ["admin"])
    assert oct(os.stat(session_file()).st_mode & 0o777) == "0o600"


def test_login_prompts_for_the_password_when_the_environment_has_none(cli) -> None:
    cli("login", "--user", "admin", input=f"{ADMIN_PASSWORD}\n")
    assert cli.json("whoami")["username"] == "admin"


def test_a_wrong_password_is_refused_and_stores_nothing(cli) -> None:
    result = cli("login", "--user", "admin", env={"GXPML_PASSWORD": "not the password"}, code=AUTH)
    assert result.stderr.startswith("Error: User name or password is wrong")
    assert "not the password" not in result.output
    assert not session_file().exists()


def test_whoami_without_a_session_exits_6(cli) -> None:
    result = cli("whoami", code=AUTH)
    assert "Not logged in" in result.stderr


def test_whoami_shows_the_actor_as_a_table(admin) -> None:
    out = admin("whoami").stdout
    assert "username" in out and "Ada Admin" in out


def test_logout_revokes_the_session(admin) -> None:
    token = json.loads(session_file().read_text())  # {workspace id: token}
    assert "Logged out admin" in admin("logout").stdout
    admin("whoami", code=AUTH)
    session_file().write_text(json.dumps(token))  # a copy of the token kept before logout
    result = admin("whoami", code=AUTH)
    assert "was revoked" in result.stderr


def test_logout_forgets_a_session_that_has_ended_already(admin) -> None:
    sessions = json.loads(session_file().read_text())
    ws_id = next(iter(sessions))
    session_file().write_text(json.dumps({ws_id: "gxpml_tok_0000000000000000_forged"}))
    admin("whoami", code=AUTH)
    admin("logout")
    assert json.loads(session_file().read_text()) == {}
    admin("whoami", code=AUTH)


def test_login_replaces_a_session_that_has_ended(admin) -> None:
    ws_id = next(iter(json.loads(session_file().read_text())))
    session_file().write_text(json.dumps({ws_id: "gxpml_tok_0000000000000000_forged"}))
    admin("login", "--user", "admin", env={"GXPML_PASSWORD": ADMIN_PASSWORD})
    assert admin.json("whoami")["username"] == "admin"


def test_gxpml_token_wins_over_the_stored_session(admin, home: Path, add_user) -> None:
    add_user("bob", "reviewer")
    with Workspace.open(home, user="bob", password=PASSWORD) as ws:
        _, token = ws.tokens.create("ci")
    assert admin.json("whoami", env={"GXPML_TOKEN": token})["username"] == "bob"
    assert admin.json("whoami")["username"] == "admin"


def test_a_disabled_user_cannot_log_in(admin, add_user) -> None:
    add_user("bob", "reviewer")
    admin("user", "disable", "bob", "--reason", "left the company")
    result = admin("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD}, code=AUTH)
    assert "Account 'bob' is disabled" in result.stderr


def test_an_account_locked_after_failed_logins_logs_in_again_once_unlocked(admin, add_user, home: Path) -> None:
    add_user("bob", "reviewer")
    threshold = load_settings(home).security.lockout_threshold
    for _ in range(threshold):
        admin("login", "--user", "bob", env={"GXPML_PASSWORD": "wrong guess"}, code=AUTH)
    result = admin("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD}, code=AUTH)
    assert "is locked" in result.stderr
    admin("user", "unlock", "bob", "--reason", "confirmed by phone")
    admin("login", "--user", "bob", env={"GXPML_PASSWORD": PASSWORD})
    assert admin.json("whoami")["username"] == "bob"


def test_logout_does_not_revoke_the_api_token_in_gxpml_token(admin) -> None:
    token = admin.json("token", "create", "ci")["token"]
    admin("logout", env={"GXPML_TOKEN": token})
    admin("whoami", env={"GXPML_TOKEN": token})
