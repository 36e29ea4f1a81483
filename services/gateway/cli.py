"""`flask --app services.gateway create-organiser EMAIL [--password P] [--name N]`: bootstrap an organiser.

Never prompts (CI has no stdin): without --password a strong one is generated and printed once.
"""

from __future__ import annotations

import secrets

import click
from flask import Flask

from services.gateway import service
from services.gateway.auth import passwords
from services.gateway.domain.accounts import PolicyError
from services.gateway.socket_sessions import end_sockets
from shared.service_app import db


def register_cli(app: Flask) -> None:
    @app.cli.command("create-organiser")
    @click.argument("email")
    @click.option("--password", default=None, help="Password for a new account (generated when omitted).")
    @click.option("--name", default=None, help="Display name (default: the part of the e-mail before @).")
    @click.option("--organisation", default="Insight Days", show_default=True)
    @click.option("--region", default="Unspecified", show_default=True)
    def create_organiser(email: str, password: str | None, name: str | None, organisation: str, region: str) -> None:
        """Create an organiser account, or grant the organiser role to an existing account."""
        generated = password is None
        password = password or secrets.token_urlsafe(18)
        display_name = (name or email.split("@", 1)[0]).strip() or "Organiser"
        try:
            result = service.ensure_organiser(db(), passwords(), email, password, display_name, organisation, region)
        except PolicyError as exc:
            raise click.BadParameter(exc.message, param_hint=exc.field) from None
        account = result.account
        if result.created:
            click.echo(f"created organiser {account.email} (id {account.id})")
            if generated:
                click.echo(f"password: {password}")
        elif result.promoted:
            click.echo(f"{account.email} (id {account.id}) already exists: organiser role granted, password unchanged")
            end_sockets(account.id)  # open connections carry the old roles (ended through the Redis queue)
        else:
            click.echo(f"{account.email} (id {account.id}) is already an organiser: nothing changed")
