"""``gxpml token ...``: a token is printed once, works as GXPML_TOKEN, and dies when revoked."""

from __future__ import annotations

from gxpml.errors import AuthenticationError, InvalidInput, PermissionDenied
from support import PASSWORD

AUTH = AuthenticationError.exit_code


def test_token_create_prints_only_the_token_on_stdout(admin) -> None:
    result = admin("token", "create", "ci", "--role", "admin", "--expires-days", "7")
    token = result.stdout.strip()
    assert token.startswith("gxpml_tok_") and "\n" not in token
    assert "cannot be shown again" in result.stderr
    me = admin.json("whoami", env={"GXPML_TOKEN": token})
    assert (me["username"], me["roles"]) == ("admin", ["admin"])


def test_a_token_carries_only_the_roles_it_was_created_with(cli, add_user, login) -> None:
    add_user("bob", "reviewer", "data-scientist")
    login("bob", PASSWORD)
    token = cli.json("token", "create", "notebook", "--role", "data-scientist")["token"]
    assert cli.json("whoami", env={"GXPML_TOKEN": token})["roles"] == ["data-scientist"]
    cli("audit", "verify", env={"GXPML_TOKEN": token}, code=PermissionDenied.exit_code)
    cli("token", "create", "x", "--role", "admin", code=InvalidInput.exit_code)


def test_token_create_json_holds_the_token_and_its_record(admin) -> None:
    created = admin.json("token", "create", "pipeline", "--service")
    assert created["kind"] == "service" and created["name"] == "pipeline"
    assert created["token"].startswith(f"gxpml_{created['id']}_")


def test_token_list_never_shows_a_secret(admin) -> None:
    created = admin.json("token", "create", "ci")
    secret = created["token"].rsplit("_", 1)[1]
    listed = admin.json("token", "list")
    assert created["id"] in [t["id"] for t in listed]
    table = admin("token", "list").stdout
    assert created["id"] in table
    assert secret not in table and secret not in str(listed)


def test_administrators_create_and_list_tokens_for_others(admin, add_user) -> None:
    add_user("bob", "reviewer")
    token = admin.json("token", "create", "for-bob", "--user", "bob")["token"]
    assert admin.json("whoami", env={"GXPML_TOKEN": token})["username"] == "bob"
    assert [t["name"] for t in admin.json("token", "list", "--user", "bob")] == ["for-bob"]


def test_a_revoked_token_is_refused(admin) -> None:
    created = admin.json("token", "create", "ci")
    admin("token", "revoke", created["id"], code=2)  # --reason is required
    assert f"Revoked token {created['id']}" in admin("token", "revoke", created["id"], "--reason", "leaked").stdout
    result = admin("whoami", env={"GXPML_TOKEN": created["token"]}, code=AUTH)
    assert "was revoked" in result.stderr
    assert [t["revoked_at"] is not None for t in admin.json("token", "list") if t["id"] == created["id"]] == [True]
