"""The README's CLI reference must name every command `djml --help` lists."""

import re
from pathlib import Path

from djml.cli import COMMANDS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_is_in_the_readme_cli_reference():
    text = README.read_text(encoding="utf-8")
    reference = text.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`djml ([a-z][a-z-]*)", reference))
    missing = sorted(set(COMMANDS) - documented)
    assert not missing, f"commands missing from README's CLI reference: {missing}"


def test_help_lists_every_command(run_djml):
    proc = run_djml("--help", check=True)
    for name in COMMANDS:
        assert re.search(rf"^\s+{re.escape(name)}\s", proc.stdout, re.M), name


def test_every_command_has_its_own_help(run_djml):
    for name in COMMANDS:
        proc = run_djml(name, "--help", check=True)
        assert "Usage: djml " + name in proc.stdout


def test_every_command_and_subcommand_help_has_examples():
    """The README promises `--help` with examples; many pages had none."""
    import click

    from djml.cli import cli

    root = click.Context(cli)
    missing = []

    def walk(command, path):
        text = command.get_help(click.Context(command, info_name=path[-1], parent=root))
        if "example" not in text.lower():
            missing.append(" ".join(path))
        if isinstance(command, click.Group):
            for name in command.list_commands(root):
                walk(command.get_command(root, name), [*path, name])

    for name in COMMANDS:
        walk(cli.get_command(root, name), [name])
    assert not missing, f"--help without examples: {missing}"
