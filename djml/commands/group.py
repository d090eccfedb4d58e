"""The `djml` click group: its commands are imported on first use (see :mod:`djml.cli`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from djml.cli import COMMANDS, State


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"djml.commands.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="DJML_CONFIG",
    help="Config file (default: $DJML_HOME/config.toml or $XDG_CONFIG_HOME/djml/config.toml).",
)
@click.version_option(package_name="djml")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """djml — local-first machine learning for your own music.

    Analyses your tracks (BPM, key in Camelot/Open Key, energy, timbre) and samples
    (kick, snare, hihat, …), learns your crate buckets, and suggests what to play next.

    \b
    Quick start:
      djml init --library ~/Music/Tracks --samples ~/Music/Samples
      djml scan
      djml ls --bpm 120-128 --key 8A

    \b
    Set DJML_HOME to keep config, data and socket in one folder.
    Exit codes: 0 ok, 1 some files failed, 2 usage or config error.
    """
    ctx.obj = State(config_path)
