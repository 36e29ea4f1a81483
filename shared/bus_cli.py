"""`flask --app services.X bus`: run the bus process; `bus dead-letters list|replay|drop` for operators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from shared.bus import Handler
from shared.bus_process import run_bus_process
from shared.dead_letters import DeadLetters


def register_bus_cli(app: Flask, outbox_model: type[Any], handlers: Callable[[Flask], dict[str, Handler]]) -> None:
    service = app.config["SERVICE"]

    @app.cli.group("bus", invoke_without_command=True)
    @click.pass_context
    def bus_group(ctx: click.Context) -> None:
        """Run the outbox relay and the event consumer of this service until SIGTERM."""
        if ctx.invoked_subcommand is None:
            run_bus_process(app, outbox_model, handlers(app))

    @bus_group.group("dead-letters")
    def dead_letters_group() -> None:
        """Events this service's consumer gave up on."""

    def letters() -> DeadLetters:
        return DeadLetters(app.extensions["redis"])

    def chosen(ids: tuple[str, ...], everything: bool) -> list:  # type: ignore[type-arg]
        if not ids and not everything:
            raise click.UsageError("name dead-letter ids, or --all")
        mine = list(letters().entries(group=service))
        if everything:
            return mine
        known = {letter.id: letter for letter in mine}
        missing = [i for i in ids if i not in known]
        if missing:
            raise click.BadParameter(f"not dead letters of {service}: {', '.join(missing)}", param_hint="IDS")
        return [known[i] for i in ids]

    @dead_letters_group.command("list")
    @click.option("--all-groups", is_flag=True, help="Every service's dead letters, not just this one's.")
    def list_command(all_groups: bool) -> None:
        """One line per dead letter: id, group, type, event id, when, why."""
        found = 0
        for letter in letters().entries(group=None if all_groups else service):
            found += 1
            click.echo(
                f"{letter.id}\t{letter.group}\t{letter.type}\t{letter.event_id}\t{letter.dead_at}\t{letter.reason}"
            )
        click.echo(f"{found} dead letter(s)", err=True)

    @dead_letters_group.command("replay")
    @click.argument("ids", nargs=-1)
    @click.option("--all", "everything", is_flag=True, help="Every dead letter of this service.")
    def replay_command(ids: tuple[str, ...], everything: bool) -> None:
        """Apply dead letters again with this service's handlers; an entry is removed only if that worked."""
        with app.app_context():
            result = letters().replay(chosen(ids, everything), handlers(app))
        for letter_id, error in result.failed.items():
            click.echo(f"failed {letter_id}: {error}", err=True)
        click.echo(f"replayed {len(result.replayed)}, failed {len(result.failed)}")
        if result.failed:
            raise SystemExit(1)

    @dead_letters_group.command("drop")
    @click.argument("ids", nargs=-1)
    @click.option("--all", "everything", is_flag=True, help="Every dead letter of this service.")
    def drop_command(ids: tuple[str, ...], everything: bool) -> None:
        """Delete dead letters for good."""
        dropped = letters().drop([letter.id for letter in chosen(ids, everything)])
        click.echo(f"dropped {dropped}")
