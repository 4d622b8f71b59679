"""``slipway users``, ``slipway tokens`` and ``slipway audit``: who may call the server, and what was done.

Every command opens the security service of the current settings, embedded or remote. Embedded,
the local OS user is trusted with every role: that is how the first admin and their first token
are made on the server's machine, against the database the server uses. Remote, the server checks
the caller's token like any other call (users: admins; own tokens: anyone; audit: approvers, admins).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from slipway._redact import redact
from slipway.cli import _output
from slipway.cli._output import JsonFlag
from slipway.cli._session import opener

if TYPE_CHECKING:
    from slipway.events import AuditEntry
    from slipway.security import Token, User

users_app = typer.Typer(
    help="Users of a Slipway server and their roles: viewer (read), scientist (run, log, register, non-production "
    "endpoints, call endpoints), approver (approve versions, move prod, deploy to production, call endpoints), admin "
    "(users, everything), invoker (call endpoints only: an application's token).",
    short_help="Create, list and disable users.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens: a client sends one as SLIPWAY_TOKEN. A token is shown once, when it is created; the server "
    "keeps only its hash.",
    short_help="Create, list and revoke API tokens.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit trail: every change, who made it, from where and when, hash-chained so that an edited or "
    "deleted entry is detected.",
    short_help="List and verify the audit trail.",
    no_args_is_help=True,
)

UserArg = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.", show_default=False)]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


open_security = opener(lambda client: client.security)


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``3600s`` as a timedelta; anything else is a usage error."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30d, 12h, 90m, 2w", param_hint="'--expires-in'")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_time(text: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 date or time; without a zone it is taken as UTC, as every stored time is."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date or time such as 2026-11-25 or 2026-11-25T18:00",
                                 param_hint=f"'{option}'") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# ----------------------------------------------------------------------------------------- users


def _users_table(found: list[User]) -> RenderableType:
    if not found:
        return _output.empty_section("Users", "none yet: create one with `slipway users create NAME --role admin`")
    table = _output.table("Name", "Roles", "State", _output.time_column("Created"), "By")
    for u in found:
        state = "[red]disabled[/red]" if u.disabled else "[green]active[/green]"
        table.add_row(_output.plain(u.name), ", ".join(u.roles), state, _output.fmt_time(u.created_at),
                      _output.plain(u.created_by))
    return table


@users_app.command("create")
def users_create(
    name: UserArg,
    role: Annotated[list[str], typer.Option("--role", "-r", help="A role to give (repeat for several): viewer, "
                                            "scientist, approver, admin or invoker.", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Create a user, e.g. `slipway users create alice --role admin`; then `slipway tokens create --user alice`."""
    with open_security() as security:
        made = security.create_user(name, role)
    _output.emit(as_json, lambda: made.model_dump(mode="json"),
                 lambda: f"User [bold]{_output.plain(made.name)}[/bold] created with role(s) {', '.join(made.roles)}. "
                 f"Next: slipway tokens create --user {made.name}")


@users_app.command("list")
def users_list(as_json: JsonFlag = False) -> None:
    """The users, their roles and whether they are disabled."""
    with open_security() as security:
        found = security.list_users()
    _output.emit(as_json, lambda: [u.model_dump(mode="json") for u in found], lambda: _users_table(found))


@users_app.command("disable")
def users_disable(name: UserArg, as_json: JsonFlag = False) -> None:
    """Disable a user: every request with one of their tokens is refused from now on."""
    with open_security() as security:
        user = security.disable_user(name)
    _output.emit(as_json, lambda: user.model_dump(mode="json"),
                 lambda: f"User [bold]{_output.plain(user.name)}[/bold] disabled; their tokens no longer work.")


# ---------------------------------------------------------------------------------------- tokens


def _tokens_table(found: list[Token]) -> RenderableType:
    if not found:
        return _output.empty_section("Tokens", "none: create one with `slipway tokens create`")
    table = _output.table(_output.id_column(), "User", "Name", _output.time_column("Expires"),
                          _output.time_column("Last used"), "State")
    now = dt.datetime.now(dt.UTC)
    for t in found:
        state = "[green]active[/green]" if t.active(now) else ("revoked" if t.revoked_at else "expired")
        table.add_row(t.id, _output.plain(t.user), _output.plain(t.name), _output.fmt_time(t.expires_at),
                      _output.fmt_time(t.last_used_at), state)
    return table


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose token (default: yours; another user's "
                                             "needs the admin role).")] = None,
    name: Annotated[str, typer.Option("--name", help="A label to tell tokens apart, e.g. laptop or ci.")] = "default",
    expires_in: Annotated[str | None, typer.Option("--expires-in", help="Lifetime such as 30d, 12h, 2w (default: "
                                                   "never expires).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API token and print it: this is the only time it is shown, so store it now."""
    lifetime = parse_duration(expires_in) if expires_in is not None else None
    with open_security() as security:
        made = security.create_token(user, name=name, expires_in=lifetime)
    if as_json:
        _output.print_json({**made.token.model_dump(mode="json"), "secret": made.secret})
        return
    typer.echo(made.secret)
    expiry = _output.fmt_time(made.token.expires_at) if made.token.expires_at else "never"
    _output.stderr().print(
        f"Token {made.token.id} for {made.token.user} (expires: {expiry}). It is shown only this once: "
        "use it as SLIPWAY_TOKEN, or paste it into the web UI's login page.",
        highlight=False, markup=False, soft_wrap=True,
    )


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose tokens (default: yours; * for everyone's, "
                                             "admins only).")] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Include revoked and expired tokens.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Tokens (never their secrets): who, which, when they expire and were last used."""
    with open_security() as security:
        found = security.list_tokens(user, include_inactive=all_states)
    _output.emit(as_json, lambda: [t.model_dump(mode="json") for t in found], lambda: _tokens_table(found))


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id, from `slipway tokens list`.",
                                            show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token (yours, or anyone's as an admin): requests with it are refused from now on."""
    with open_security() as security:
        revoked = security.revoke_token(token_id)
    _output.emit(as_json, lambda: revoked.model_dump(mode="json"),
                 lambda: f"Token {revoked.id} of {_output.plain(revoked.user)} revoked.")


# ----------------------------------------------------------------------------------------- audit


def _audit_table(found: list[AuditEntry]) -> RenderableType:
    if not found:
        return _output.empty_section("Audit trail", "no entries match")
    table = _output.table("Seq", _output.time_column("When"), "Who", "From", "Action", "Object", "Details")
    for e in found:
        details = json.dumps(e.details, sort_keys=True, default=str) if e.details else ""
        table.add_row(str(e.seq), _output.fmt_time(e.at), _output.plain(e.actor), _output.plain(e.source),
                      _output.plain(e.action), Text(f"{e.object_kind} {e.object_id}"), Text(details))
    return table


@audit_app.command("list")
def audit_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only changes by this user.")] = None,
    object_id: Annotated[str | None, typer.Option("--object", help="Only changes to this object (an id or name).")]
    = None,
    since: Annotated[str | None, typer.Option("--since", help="From this date or time (ISO 8601; UTC unless a "
                                              "zone is given).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this date or time.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many, the newest.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Audit entries, oldest first: when, who, from which address, what, to which object, before and after."""
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    with open_security() as security:
        found = redact(security.audit_entries(user=user, object_id=object_id, since=start, until=end, limit=limit))
    _output.emit(as_json, lambda: [e.model_dump(mode="json") for e in found], lambda: _audit_table(found))


@audit_app.command("verify")
def audit_verify(
    head: Annotated[str | None, typer.Option("--head", help="A head hash printed by an earlier verify: also check "
                                             "it is still in the trail (detects removed newest entries).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every link of the hash chain; exit 1 naming the first entry edited, inserted or deleted behind its back."""
    with open_security() as security:
        check = security.verify_audit(head)
    broken = check.first_broken
    if as_json:
        _output.print_json(check.model_dump(mode="json"))
    elif broken is None:
        _output.say(f"The audit trail holds: {check.entries} entries, head {check.head or '-'}.")
    if broken is not None:
        if not as_json:
            _output.error(
                f"the audit trail is broken at entry {broken.seq} ({broken.action} on {broken.object_kind} "
                f"{broken.object_id} by {broken.actor} at {_output.fmt_time(broken.at)}): it, or the one before "
                "it, was edited, inserted or deleted"
            )
        raise typer.Exit(1)
