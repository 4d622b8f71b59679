"""Model cards: what a model is for, where it fails, and how well it did, in Markdown."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

_TITLE = "# Model card"
_HEADINGS = {
    "intended_use": "## Intended use",
    "limitations": "## Limitations",
    "evaluation": "## Evaluation",
    "extra": "## Additional information",
}
_TABLE_HEAD = ("| metric | value |", "| --- | --- |")
_ROW = re.compile(r"^\|\s*(?P<metric>[^|]+?)\s*\|\s*(?P<value>[^|]+?)\s*\|$")


class ModelCard(BaseModel):
    """The human side of a model package, stored as ``MODEL_CARD.md``.

    Text fields are Markdown and are stored stripped; an empty one counts as absent, and none may
    contain a line that is one of the card's own ``##`` headings. ``evaluation`` is either Markdown
    or a dict of metric to value, written as a two-column table.

    Example:
        >>> card = ModelCard(intended_use="Estimate abalone age from shell measurements.",
        ...                  evaluation={"rmse": 2.1})
        >>> ModelCard.from_markdown(card.to_markdown()) == card
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intended_use: str | None = None
    limitations: str | None = None
    evaluation: str | dict[str, float] | None = None
    extra: str | None = None

    @field_validator("intended_use", "limitations", "extra", "evaluation", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if any(line.rstrip() in _HEADINGS.values() for line in value.splitlines()):
            headings = ", ".join(_HEADINGS.values())
            raise ValueError(f"a line of the text is one of the card's own headings ({headings})")
        return value.strip() or None

    @field_validator("evaluation")
    @classmethod
    def _table_safe(cls, value: object) -> object:
        if isinstance(value, dict):
            for metric in value:
                if not metric.strip() or "|" in metric or "\n" in metric or metric != metric.strip():
                    raise ValueError(f"metric name {metric!r} cannot be a table cell")
        return value

    def to_markdown(self) -> str:
        """Render the card as Markdown that :meth:`from_markdown` reads back to an equal card."""
        parts = [_TITLE]
        for field, heading in _HEADINGS.items():
            value = getattr(self, field)
            if isinstance(value, dict):
                value = "\n".join([*_TABLE_HEAD, *(f"| {k} | {v!r} |" for k, v in value.items())])
            if value is not None:
                parts += [heading, value]
        return "\n\n".join(parts) + "\n"

    @classmethod
    def from_markdown(cls, text: str) -> ModelCard:
        """Read a card from Markdown.

        The known ``##`` sections fill their fields; an evaluation section that is only a
        ``| metric | value |`` table of numbers becomes a dict. Anything before the first known
        section other than the title (a hand-written card with headings of its own) goes to
        ``extra``, ahead of the "Additional information" section.
        """
        fields: dict[str, list[str]] = {name: [] for name in (*_HEADINGS, "preamble")}
        current = "preamble"
        by_heading = {heading: name for name, heading in _HEADINGS.items()}
        for line in text.splitlines():
            if line.rstrip() in by_heading:
                current = by_heading[line.rstrip()]
            elif not (current == "preamble" and line.strip() == _TITLE):
                fields[current].append(line)
        sections = {name: "\n".join(lines).strip() for name, lines in fields.items()}
        extra = "\n\n".join(part for part in (sections.pop("preamble"), sections["extra"]) if part)
        return cls(
            intended_use=sections["intended_use"],
            limitations=sections["limitations"],
            evaluation=_metrics_table(sections["evaluation"]),
            extra=extra,
        )


def _metrics_table(text: str) -> str | dict[str, float]:
    """The metrics of a ``| metric | value |`` table of numbers, or ``text`` unchanged."""
    lines = text.splitlines()
    if tuple(line.strip() for line in lines[:2]) != _TABLE_HEAD:
        return text
    metrics: dict[str, float] = {}
    for line in lines[2:]:
        row = _ROW.match(line.strip())
        if row is None:
            return text
        try:
            value = float(row["value"])
        except ValueError:
            return text
        metrics[row["metric"]] = value
    return metrics
