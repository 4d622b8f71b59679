"""Rendering shared by every command: consoles, tables, JSON and the formatting of values.

Every command prints through these helpers so that a run id, a time or a metric value looks the
same wherever it appears, and so that ``--json`` means the same thing everywhere: the records'
``model_dump(mode="json")``, indented, on stdout, with nothing else around it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.table import Column, Table
from rich.text import Text

from slipway._time import ms_to_datetime

JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON instead of a table (for scripts and jq)."),
]

MISSING = "—"
ID_WIDTH = 26  # Slipway ids are 26-character ULIDs; never wrap or cut them.
UNBOUNDED_WIDTH = 10_000  # columns of a console that is no terminal: tables take their natural width

_STATUS_STYLES = {
    "RUNNING": "blue",
    "SCHEDULED": "cyan",
    "FINISHED": "green",
    "FAILED": "red",
    "KILLED": "yellow",
}


def stdout() -> Console:
    """A console on the current stdout, as wide as a table needs when stdout is not a terminal.

    A terminal's width is the user's to fit; but a pipe, a file or a CI log has none, and Rich's
    default of 80 columns would cut cells there (``Succe…``) that a script or a reader of the log
    needs whole. ``COLUMNS``, when set, wins either way.

    Built per call rather than at import, so importing the CLI has no side effects and each
    invocation (including those of ``CliRunner`` in the tests) sees its own streams and ``COLUMNS``.
    """
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=UNBOUNDED_WIDTH)


def stderr() -> Console:
    """A console on stderr, for errors, warnings and progress bars that must not pollute stdout."""
    return Console(stderr=True)


def error(message: str) -> None:
    """Print ``error: <message>`` as one red line on stderr.

    Line breaks inside the message (a driver's error often has them) are folded into spaces and
    ``soft_wrap`` stops Rich from adding its own, so scripts can rely on exactly one line. Markup is
    off so that brackets in a message (a list of choices, a path) are printed as they are.
    """
    one_line = " ".join(message.split())
    stderr().print(f"error: {one_line}", style="red", markup=False, highlight=False, soft_wrap=True)


def warning(message: str) -> None:
    """Print ``warning: <message>`` as one yellow line on stderr (see :func:`error`)."""
    stderr().print(f"warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """Print a one-line confirmation on stdout (Rich markup allowed, never wrapped)."""
    stdout().print(message, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print JSON for machines: plain text, no colours, unicode kept readable."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit(as_json: bool, data: Callable[[], Any], *views: Callable[[], RenderableType]) -> None:
    """Print either the JSON of a result or its Rich views, as ``--json`` asks.

    Both sides are callables so that a command builds only the form it prints.
    """
    if as_json:
        print_json(data())
        return
    console = stdout()
    for view in views:
        console.print(view())


def table(*columns: str | Column, title: str | None = None) -> Table:
    """A table in the house style: no vertical lines, a rule under bold headers, a title above when given.

    Spare borders leave the width to the values, which matters with 26-character ids in 80 columns.
    """
    return Table(*columns, title=title, title_justify="left", title_style="bold", header_style="bold",
                 box=box.SIMPLE, show_edge=False, pad_edge=False, collapse_padding=True)


def id_column(header: str = "ID") -> Column:
    """A column for ids: always shown whole, since users copy them into the next command."""
    return Column(header, no_wrap=True, min_width=ID_WIDTH, style="cyan")


def empty_section(title: str, message: str) -> str:
    """A section's title over a dim line saying why it is empty: an absent table would look like a bug."""
    return f"[bold]{title}[/bold]\n[dim]{message}[/dim]"


def key_value_table(title: str, values: Mapping[str, object], *, empty: str) -> RenderableType:
    """A two-column table of a mapping (params, tags), or a dim line when there is nothing to show."""
    if not values:
        return empty_section(title, empty)
    out = table("Key", "Value", title=title)
    for key in sorted(values):
        out.add_row(Text(key), Text(str(values[key])))
    return out


def plain(value: object) -> Text:
    """User content (names, params, paths) as literal text: ``[relu]`` is a value, not Rich markup."""
    return Text(str(value))


def time_column(header: str) -> Column:
    """A column of :func:`fmt_time` values, kept on one line."""
    return Column(header, no_wrap=True, min_width=19)


def fmt_time(value: dt.datetime | None) -> str:
    """A timestamp in the user's local time zone, to the second (stored times are UTC)."""
    if value is None:
        return MISSING
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_ms(ms: int) -> str:
    """A metric timestamp (milliseconds since the epoch) like :func:`fmt_time`."""
    return fmt_time(ms_to_datetime(ms))


def fmt_duration(value: dt.timedelta | None) -> str:
    """A duration as ``1h02m03s``, ``2m05s`` or ``4.2s``; a run still going has none."""
    if value is None:
        return MISSING
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def fmt_number(value: float | None) -> str:
    """A metric value, short enough for a table; NaN and infinities are shown, not hidden.

    Tables round to six significant digits; ``--json`` gives the exact value.
    """
    if value is None:
        return MISSING
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def fmt_size(size: int) -> str:
    """A byte count in human units (``512 B``, ``3.4 MiB``)."""
    if size < 1024:
        return f"{size} B"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024:
            return f"{amount:.1f} {unit}"
    return f"{amount / 1024:.1f} TiB"


def fmt_status(status: str, styles: Mapping[str, str] = _STATUS_STYLES) -> str:
    """A status coloured by outcome (``styles``: a run's by default), so failures stand out in a long list."""
    style = styles.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


def fmt_pairs(values: Iterable[tuple[str, str]], limit: int = 3) -> Text:
    """``k=v k=v`` for a table cell: the first ``limit`` pairs, then how many more there are."""
    pairs = list(values)
    shown = " ".join(f"{k}={v}" for k, v in pairs[:limit])
    return Text(f"{shown} (+{len(pairs) - limit})" if len(pairs) > limit else shown)
