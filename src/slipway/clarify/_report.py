"""A clarify report: ``analysis.json`` in the cloud stack's layout, per-row attributions, and one offline HTML page.

``analysis.json`` holds what was computed::

    {"version": "1.0",
     "pre_training_bias_metrics": {"label": ..., "label_value_or_threshold": ..., "facets": {...}},
     "post_training_bias_metrics": {...},
     "explanations": {"kernel_shap": {"label0": {"global_shap_values": {...}, "expected_value": ...}},
                      "pdp": [{"feature_name", "data_type", "feature_values", "model_predictions", ...}]}}

``explanations_shap/out.csv`` holds one row of attributions per explained row. ``report.html``
draws the same numbers with the shared chart module: no script, nothing fetched, so it opens
offline and can be mailed.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from slipway._charts import line_chart, signed_bars
from slipway.clarify._bias import POST_SECTION, PRE_SECTION
from slipway.clarify._explain import Explanation
from slipway.clarify._metrics import read_number
from slipway.errors import InvalidInput

ANALYSIS_FILE = "analysis.json"
REPORT_FILE = "report.html"
LOCAL_FILE = "explanations_shap/out.csv"
EXPLANATIONS = "explanations"

_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666}
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 10px}
svg text{font-size:10px;fill:#444}
"""


@dataclasses.dataclass(frozen=True)
class Analysis:
    """The content of a report: ``document`` is ``analysis.json``; ``local`` the per-row attributions."""

    document: dict[str, Any]
    local: pd.DataFrame | None = None

    @classmethod
    def of(cls, bias: dict[str, Any] | None = None, explanation: Explanation | None = None) -> Analysis:
        """Join bias sections (from :func:`~slipway.clarify.bias_metrics`) and an explanation."""
        document: dict[str, Any] = {"version": "1.0", **(bias or {})}
        if explanation is not None:
            document[EXPLANATIONS] = explanation.analysis()
        if len(document) == 1:
            raise InvalidInput("a report needs bias metrics or an explanation", field="analysis")
        return cls(document, explanation.local_frame() if explanation is not None else None)

    def files(self, title: str = "Bias and explainability report") -> dict[str, bytes]:
        """The report's files by name (``analysis.json``, ``report.html``, and the local attributions)."""
        found = {ANALYSIS_FILE: json.dumps(self.document, indent=1).encode(),
                 REPORT_FILE: render_html(self.document, title).encode()}
        if self.local is not None:
            found[LOCAL_FILE] = self.local.to_csv(index=False).encode()
        return found

    def write(self, folder: str | Path, title: str = "Bias and explainability report") -> Path:
        """Write :meth:`files` into ``folder`` (created if needed); returns the folder."""
        target = Path(folder)
        for name, content in self.files(title).items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return target

    @classmethod
    def read(cls, source: str | Path | bytes) -> Analysis:
        """A report from its folder or the bytes of its ``analysis.json``.

        Raises:
            InvalidInput: if it is not such a document.
        """
        local = None
        if isinstance(source, str | Path):
            folder = Path(source)
            text = (folder / ANALYSIS_FILE).read_bytes() if folder.is_dir() else folder.read_bytes()
            if folder.is_dir() and (folder / LOCAL_FILE).is_file():
                local = pd.read_csv(folder / LOCAL_FILE)
        else:
            text = source
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"not an analysis.json: {exc}", field="analysis") from None
        if not isinstance(document, dict) or not ({PRE_SECTION, POST_SECTION, EXPLANATIONS} & set(document)):
            raise InvalidInput("not an analysis.json: it has no bias metrics and no explanations", field="analysis")
        return cls(document, local)

    def bias_values(self, section: str = POST_SECTION) -> dict[str, float]:
        """The metrics of one bias section as ``{"<facet>=<value>/<METRIC>": value}`` (NaN when not computed)."""
        found: dict[str, float] = {}
        for facet, entries in self.document.get(section, {}).get("facets", {}).items():
            for entry in entries:
                for metric in entry["metrics"]:
                    found[f"{facet}={entry['value_or_threshold']}/{metric['name']}"] = read_number(metric.get("value"))
        return found

    def global_shap(self) -> dict[str, float]:
        """Mean |SHAP| per feature, as the report holds it (empty without an explanation)."""
        label = self.document.get(EXPLANATIONS, {}).get("kernel_shap", {}).get("label0", {})
        return {str(k): float(v) for k, v in label.get("global_shap_values", {}).items()}

    def summary(self) -> dict[str, Any]:
        """A few headline numbers, small enough to store and list: metrics per facet and the top features."""
        found: dict[str, Any] = {}
        for section, key in ((PRE_SECTION, "pre_training"), (POST_SECTION, "post_training")):
            values = self.bias_values(section)
            if values:
                found[key] = {k: (v if math.isfinite(v) else str(v)) for k, v in values.items() if not math.isnan(v)}
        importance = self.global_shap()
        if importance:
            found["top_features"] = sorted(importance, key=lambda f: -importance[f])[:10]
        return found


def render_html(document: dict[str, Any], title: str = "Bias and explainability report") -> str:
    """The page: bias metrics per facet value as tables and bars, global attributions, partial dependence."""
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    headings = ((PRE_SECTION, "Pre-training bias (labels)"), (POST_SECTION, "Post-training bias (predictions)"))
    for section, heading in headings:
        if section in document:
            body.append(_bias_html(document[section], heading))
    explanations = document.get(EXPLANATIONS, {})
    label = explanations.get("kernel_shap", {}).get("label0")
    if label:
        importance = sorted(label["global_shap_values"].items(), key=lambda kv: -kv[1])
        method, output = esc(str(label.get("method", "kernel"))), esc(str(label.get("output", "output")))
        body.append(f"<h2>Feature attributions</h2><p class='muted'>Mean |SHAP| over {label.get('rows', '?')} rows "
                    f"({method} method) of the {output}; expected value {float(label['expected_value']):.4g}.</p>")
        body.append(signed_bars([(name, float(v)) for name, v in importance[:30]]))
    if explanations.get("pdp"):
        body.append("<h2>Partial dependence</h2><div class='grid'>")
        for entry in explanations["pdp"]:
            body.append(f"<div class='card'><h3>{esc(str(entry['feature_name']))}</h3>{_pdp_chart(entry)}</div>")
        body.append("</div>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{_STYLE}</style>"
            f"</head><body>{''.join(body)}</body></html>")


def _bias_html(section: dict[str, Any], heading: str) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(heading)}</h2><p class='muted'>Label <b>{esc(str(section.get('label')))}</b>, positive when "
             f"{esc(str(section.get('label_value_or_threshold')))}.</p>"]
    for facet, entries in section.get("facets", {}).items():
        for entry in entries:
            rows = "".join(
                f"<tr><td>{esc(m['name'])}</td><td>{esc(m['description'])}</td><td class='num'>"
                f"{esc(_shown(m.get('value')))}</td><td class='muted'>{esc(m.get('error', ''))}</td></tr>"
                for m in entry["metrics"])
            bars = signed_bars([(m["name"], read_number(m.get("value"))) for m in entry["metrics"]])
            parts.append(f"<h3>{esc(str(facet))} = {esc(str(entry['value_or_threshold']))}</h3><div class='grid'>"
                         f"<table><tr><th>Metric</th><th>Description</th><th>Value</th><th></th></tr>{rows}</table>"
                         f"<div>{bars}</div></div>")
    return "".join(parts)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else f"{float(value):.4g}"


def _pdp_chart(entry: dict[str, Any]) -> str:
    means = [float(p[0]) for p in entry["model_predictions"]]
    if entry.get("data_type") == "numerical":
        return line_chart({"mean output": list(zip(map(float, entry["feature_values"]), means, strict=True))},
                          width=360, height=180, x_label=str(entry["feature_name"]))
    return signed_bars([(str(v), m) for v, m in zip(entry["feature_values"], means, strict=True)], width=360)
