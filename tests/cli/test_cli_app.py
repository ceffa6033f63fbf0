"""The root of the command line: version, help, global options and how errors end a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gxpml
from cli_support import Cli, expect
from gxpml.errors import ConfigError


def test_version_prints_the_package_version() -> None:
    result = expect(Cli(CliRunner(), None)("--version"), 0)
    assert result.stdout.strip() == f"gxpml {gxpml.__version__}"


def test_help_lists_every_command_group() -> None:
    result = expect(Cli(CliRunner(), None)("--help"), 0)
    for command in ("init", "upgrade", "login", "logout", "whoami", "user", "role", "token", "audit", "artifacts", "keys"):
        assert command in result.stdout


def test_a_missing_workspace_is_a_config_error_with_its_exit_code_and_no_traceback(tmp_path: Path) -> None:
    result = expect(Cli(CliRunner(), tmp_path / "nowhere")("whoami"), ConfigError.exit_code)
    assert result.stderr.startswith("Error: No gxpml workspace at")
    assert "gxpml init" in result.stderr
    assert result.stdout == ""


def test_the_workspace_defaults_to_gxpml_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPML_HOME", str(home))
    result = expect(Cli(CliRunner(), None)("role", "list", "--json"), 0)
    assert "admin" in result.stdout


def test_the_workspace_defaults_to_dot_gxpml_in_the_working_folder(tmp_path: Path) -> None:
    from support import make_workspace

    make_workspace(tmp_path / ".gxpml", None).close()  # tmp_path is the working folder
    expect(Cli(CliRunner(), None)("role", "list"), 0)


def test_error_messages_are_printed_verbatim_not_as_markup(home: Path) -> None:
    # Messages name config sections such as [security]; rich must not eat them as tags.
    config = home / "gxpml.toml"
    config.write_text(config.read_text() + "bogus_setting = 1\n")
    result = expect(Cli(CliRunner(), home)("whoami"), ConfigError.exit_code)
    assert "unknown setting(s) in [security]: bogus_setting" in result.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    result = expect(cli("user", "disable", "someone"), 2)
    assert "--reason" in result.output


def _gxpml_script() -> str:
    script = Path(sys.executable).with_name("gxpml")
    if not script.exists():
        pytest.skip("the gxpml console script is not installed in this environment")
    return str(script)


def test_the_installed_script_ends_with_the_error_exit_code(tmp_path: Path) -> None:
    env = {**os.environ, "GXPML_HOME": str(tmp_path / "nowhere")}
    done = subprocess.run([_gxpml_script(), "whoami"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == ConfigError.exit_code
    assert done.stderr.startswith("Error: No gxpml workspace")
    assert "Traceback" not in done.stderr


def test_python_dash_m_gxpml_runs_the_same_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "gxpml", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gxpml {gxpml.__version__}"
