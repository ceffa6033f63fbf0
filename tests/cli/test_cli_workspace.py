"""``gxpml init`` and ``gxpml upgrade``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from cli_support import FAST_INIT, Cli, expect
from gxpml.config import load_settings
from gxpml.errors import Conflict, PasswordPolicyError
from support import ADMIN_PASSWORD, PASSWORD


def init(target: Path | None, *extra: str, password: str | None = ADMIN_PASSWORD, input: str | None = None,
         workspace: Path | None = None) -> Result:
    """``gxpml [--workspace W] init [TARGET] --admin alice ...`` with cheap argon2."""
    args = ["init", *([str(target)] if target else []), "--admin", "alice", "--admin-name", "Alice Smith", *FAST_INIT, *extra]
    return Cli(CliRunner(), workspace)(*args, input=input, env={"GXPML_PASSWORD": password})


def test_init_creates_a_workspace_and_prints_where_things_are(tmp_path: Path) -> None:
    result = expect(init(tmp_path / "lab"), 0)
    settings = load_settings(tmp_path / "lab")
    assert settings.workspace_id in result.stdout
    assert str(tmp_path / "lab") in result.stdout
    assert settings.security.argon2_memory_kib == 1024  # --security reached the config
    assert ADMIN_PASSWORD not in result.output
    assert "gxpml login --user alice" in result.stderr


def test_init_prompts_twice_for_the_password_without_echoing_it(tmp_path: Path) -> None:
    result = expect(init(tmp_path / "lab", password=None, input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n"), 0)
    assert ADMIN_PASSWORD not in result.output
    # The password typed is the one set: the administrator can log in with it.
    expect(Cli(CliRunner(), tmp_path / "lab")("login", "--user", "alice", env={"GXPML_PASSWORD": ADMIN_PASSWORD}), 0)


def test_init_takes_the_folder_from_the_global_workspace_option(tmp_path: Path) -> None:
    expect(init(None, workspace=tmp_path / "lab"), 0)
    assert (tmp_path / "lab" / "gxpml.toml").is_file()


def test_init_options_reach_the_config(tmp_path: Path) -> None:
    expect(init(tmp_path / "lab", "--no-encryption", "--artifact-url", str(tmp_path / "objects"),
                "--admin-email", "alice@example.com"), 0)
    settings = load_settings(tmp_path / "lab")
    assert settings.encryption is False
    assert settings.artifact_url == str(tmp_path / "objects")


def test_init_refuses_a_folder_that_holds_a_workspace(home: Path) -> None:
    result = expect(init(home), Conflict.exit_code)
    assert "holds a gxpml workspace already" in result.stderr


def test_init_with_a_weak_password_fails_and_leaves_nothing_behind(tmp_path: Path) -> None:
    result = expect(init(tmp_path / "lab", password="short"), PasswordPolicyError.exit_code)
    assert "too short" in result.stderr
    assert not (tmp_path / "lab").exists()


def test_init_rejects_a_malformed_security_setting(tmp_path: Path) -> None:
    result = expect(init(tmp_path / "lab", "--security", "argon2_time_cost"), 2)
    assert "KEY=INTEGER" in result.output
    assert not (tmp_path / "lab").exists()


def test_upgrade_of_a_current_workspace_changes_nothing(cli: Cli) -> None:
    result = cli.ok("upgrade")
    assert "nothing to upgrade" in result.stdout


def test_a_script_can_set_up_a_workspace_end_to_end(tmp_path: Path) -> None:
    """``python -m gxpml`` as a deployment script calls it, passwords only in the environment."""
    env = {**os.environ, "GXPML_PASSWORD": ADMIN_PASSWORD, "GXPML_SESSION_FILE": str(tmp_path / "sessions.json")}

    def run(*args: str, **extra_env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gxpml", "--workspace", str(tmp_path / "lab"), *args],
            capture_output=True, text=True, env={**env, **extra_env}, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init", "--admin", "alice", "--admin-name", "Alice Smith", *FAST_INIT)
    run("login", "--user", "alice")
    run("user", "add", "bob", "--name", "Bob Jones", "--role", "reviewer", GXPML_NEW_PASSWORD=PASSWORD)
    assert '"username": "bob"' in run("user", "show", "bob", "--json")
    assert "verifies" in run("audit", "verify")
