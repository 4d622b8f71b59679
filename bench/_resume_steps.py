"""The pipeline bench/distributed.py's kill-to-resume workload kills mid-step.

Its worker processes import this module by name (``SLIPWAY_PIPELINE_MODULES=_resume_steps``, this
folder on their ``PYTHONPATH``) to rebuild the pipeline from its definition, as they would a team's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from slipway.pipelines import Parameter, Pipeline, ProcessingStep


def slow_once(marker: str, seconds: float) -> dict[str, Any]:
    """The first time: write ``marker`` (when it started, and where) and sleep ``seconds``, to be
    killed meanwhile. Again: write ``marker.resumed`` (when the step started again) and return."""
    path = Path(marker)
    if path.exists():
        Path(f"{marker}.resumed").write_text(f"{time.time()!r} {os.getpid()}")
        return {"resumed": True}
    path.write_text(f"{time.time()!r} {os.getpid()}")
    time.sleep(seconds)
    return {"resumed": False}


resumable = Pipeline(
    "bench-resume",
    [ProcessingStep("Slow", slow_once, inputs={"marker": Parameter("marker", str), "seconds": 600.0}, cache=False)],
)


def ready() -> dict[str, Any]:
    """A step that returns at once: a worker that ran it is warm and claiming."""
    return {"pid": os.getpid()}


readiness = Pipeline("bench-ready", [ProcessingStep("Ready", ready, cache=False)])
