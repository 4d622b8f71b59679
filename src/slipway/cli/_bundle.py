"""What ``slipway models bundle`` and ``slipway endpoints bundle`` print about the bundle they wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.markup import escape
from rich.text import Text

from slipway.cli import _output

if TYPE_CHECKING:
    from slipway.serving import Bundle


def report(bundle: Bundle, as_json: bool) -> None:
    """The bundle's folder, endpoint, versions and digest, and how to serve it."""
    manifest = bundle.manifest
    out = _output.table("Version", "Flavor", "Status", "Trusted", title=f"bundle of endpoint {manifest.endpoint.name}")
    for m in manifest.models:
        trusted = Text(f"yes, by {m.trusted_by}", style="yellow") if m.trusted else Text("no", style="dim")
        out.add_row(_output.plain(m.uri), m.flavor or _output.MISSING, _output.fmt_status(m.status.value), trusted)
    lines = [
        f"Wrote {escape(str(bundle.path))} (digest {bundle.digest}).",
        f"Serve it with: slipway serve --bundle {escape(str(bundle.path))}",
    ]
    if any(m.trusted for m in manifest.models):
        lines.append(
            f"It holds versions that run code when loaded: serve it with --expect-digest {bundle.digest} "
            "to honour their trust marks (keep the digest from this output, not from the folder)."
        )
    _output.emit(
        as_json,
        lambda: {"path": str(bundle.path), "digest": bundle.digest, **manifest.model_dump(mode="json")},
        lambda: out,
        lambda: Group(*(Text.from_markup(line) for line in lines)),
    )
