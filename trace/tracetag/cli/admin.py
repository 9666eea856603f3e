"""`tracetag admin`: administration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import typer

from tracetag.cli import _common

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tracetag.audit.service import Actor
    from tracetag.producers.models import Producer


class ProducerChange(Protocol):
    def __call__(self, session: Session, *, producer_id: int, actor: Actor) -> Producer: ...


app = typer.Typer(help="Administration.", no_args_is_help=True)


@app.command("create-key")
def admin_create_key(
    label: str = typer.Option("cli", help="What the key is for; `list-keys` shows it."),
    producer_id: int | None = typer.Option(
        None, help="Make a producer's key for its integrations instead of an admin key."
    ),
) -> None:
    """Create an API key (an admin's, or with --producer-id a producer's) and print it once."""
    from tracetag.errors import NotFound
    from tracetag.identity.api_keys import create_key
    from tracetag.producers.service import get_producer

    settings = _common.settings()
    factory = _common.session_factory(settings)
    with factory() as session:
        if producer_id is not None:
            try:
                producer = get_producer(session, producer_id)
            except NotFound:
                raise _common.fail(f"no producer has id {producer_id}") from None
            _row, token = create_key(
                session,
                role="producer",
                producer_id=producer.id,
                label=label,
                actor=_common.actor(),
            )
        else:
            _row, token = create_key(session, role="admin", label=label, actor=_common.actor())
        session.commit()
    typer.echo(token)


@app.command("create-user")
def admin_create_user(
    email: str = typer.Option(..., help="The address they sign in with."),
    name: str = typer.Option(..., help="Their name as pages show it."),
    role: str = typer.Option("admin", help="admin, inspector or producer."),
    producer_id: int | None = typer.Option(None, help="For a producer member: the producer."),
    member_role: str = typer.Option("owner", help="For a producer member: owner or staff."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input, not a prompt."
    ),
) -> None:
    """Create a user who signs in to the portal (the first admin, say); asks for the password."""
    import sys

    from tracetag.errors import Conflict, Invalid
    from tracetag.identity.models import MemberRole, Role
    from tracetag.identity.passwords import Passwords
    from tracetag.identity.service import create_user

    roles = {r.value: r for r in Role}
    if role not in roles:
        raise _common.fail(f"--role must be one of {', '.join(roles)}, not {role!r}")
    chosen = roles[role]
    members = {m.value: m for m in MemberRole}
    if chosen is Role.PRODUCER and (producer_id is None or member_role not in members):
        raise _common.fail("a producer member needs --producer-id and --member-role owner|staff")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _common.settings()
    factory = _common.session_factory(settings)
    with factory() as session:
        try:
            user = create_user(
                session,
                Passwords(),
                email=email,
                name=name,
                password=password,
                role=chosen,
                producer_id=producer_id if chosen is Role.PRODUCER else None,
                member_role=members[member_role] if chosen is Role.PRODUCER else None,
                actor=_common.actor(),
            )
        except Invalid as exc:
            raise _common.fail(f"{exc.field}: {exc.message}") from exc
        except Conflict as exc:
            raise _common.fail(str(exc)) from exc
        session.commit()
    typer.echo(f"created {chosen.value} {user.email} (user {user.id})")


@app.command("list-keys")
def admin_list_keys(
    producer_id: int | None = typer.Option(None, help="A producer's keys; without it, admins'."),
) -> None:
    """List API keys, newest first: id, first characters, label, and whether revoked."""
    from tracetag.identity.api_keys import list_keys

    settings = _common.settings()
    with _common.session_factory(settings)() as session:
        rows = list_keys(session, producer_id=producer_id)
    if not rows:
        typer.echo("no API keys")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
        typer.echo(f"{row.id:>6}  {row.prefix}…  {row.label or '-':<20}  {state}")


@app.command("revoke-key")
def admin_revoke_key(key_id: int) -> None:
    """Revoke an API key by its id (see list-keys): it stops working at once."""
    from tracetag.core.database import utcnow
    from tracetag.errors import NotFound
    from tracetag.identity.api_keys import revoke_key

    settings = _common.settings()
    with _common.session_factory(settings)() as session:
        try:
            revoke_key(session, key_id=key_id, now=utcnow(), actor=_common.actor())
        except NotFound as exc:
            message = f"no API key has id {key_id}; see: tracetag admin list-keys"
            raise _common.fail(message) from exc
        session.commit()
    typer.echo(f"revoked API key {key_id}")


def _change_producer(producer_id: int, change: ProducerChange) -> None:
    """Approve, suspend or reinstate a producer, and say what it is now."""
    from tracetag.errors import Conflict, NotFound

    settings = _common.settings()
    with _common.session_factory(settings)() as session:
        try:
            producer = change(session, producer_id=producer_id, actor=_common.actor())
        except NotFound as exc:
            raise _common.fail(f"no producer has id {producer_id}") from exc
        except Conflict as exc:
            raise _common.fail(str(exc)) from exc
        session.commit()
    typer.echo(f"producer {producer.id} ({producer.name}) is {producer.status}")


@app.command("approve-producer")
def admin_approve_producer(producer_id: int) -> None:
    """Approve a producer waiting for approval: its batches are signed and tagged from now on."""
    from tracetag.producers.service import approve_producer

    _change_producer(producer_id, approve_producer)


@app.command("suspend-producer")
def admin_suspend_producer(
    producer_id: int,
    reason: str = typer.Option(..., help="Shown to the producer: what to do to be reinstated."),
) -> None:
    """Suspend a producer: nothing more is signed or tagged for it; recalls still work."""
    from functools import partial

    from pydantic import ValidationError

    from tracetag.producers.schemas import Suspension
    from tracetag.producers.service import suspend_producer

    try:
        checked = Suspension(reason=reason)
    except ValidationError as exc:
        raise _common.fail(f"--reason: {exc.errors()[0]['msg']}") from exc
    _change_producer(producer_id, partial(suspend_producer, reason=checked.reason))


@app.command("reinstate-producer")
def admin_reinstate_producer(producer_id: int) -> None:
    """Reinstate a suspended producer: it may sign again."""
    from tracetag.producers.service import reinstate_producer

    _change_producer(producer_id, reinstate_producer)
