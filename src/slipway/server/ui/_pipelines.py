"""Pipeline pages: pipelines and their versions, diffs, executions drawn as a live DAG, and their controls.

Every page reads and every button acts through :class:`~slipway.pipelines.PipelineService`, as the
REST routes do; the buttons are form posts carrying the CSRF token, answered with a redirect to the
page that shows the outcome. The execution page redraws nothing itself: its script polls
``/pipelines/{name}/executions/{id}/state`` and recolours the DAG's nodes and the steps table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, StreamingResponse

from slipway._limits import check_json_depth
from slipway._principal import current_principal
from slipway._redact import redact, redact_mapping
from slipway.errors import InvalidInput, NotFound
from slipway.pipelines import Parameter, PipelineExecution, PipelineService, StepExecution
from slipway.security import Permission
from slipway.server._guard import needs
from slipway.server._operations import backend_of
from slipway.server.ui._csrf import verify_csrf
from slipway.server.ui._graph import STATUS_COLOURS, GraphNode, layout, render_svg
from slipway.server.ui._render import UIRoute, download, has_role, render, svg

router = APIRouter(route_class=UIRoute)

EXECUTIONS_SHOWN = 50
LOG_CHARS = 200_000  # a page shows the end of a longer log; the CLI and REST API give all of it



async def _form(request: Request) -> FormData:
    """The posted form, parsed once (the CSRF check reads the same parsed copy)."""
    return await request.form()


Form = Annotated[FormData, Depends(_form)]
Csrf = Depends(verify_csrf)


def execution_url(execution: PipelineExecution) -> str:
    """The execution's page (other pages link to it)."""
    return f"/pipelines/{quote(execution.pipeline, safe='')}/executions/{quote(execution.id, safe='')}"


def _execution(service: PipelineService, name: str, execution_id: str) -> PipelineExecution:
    """The execution, refused as unknown when it belongs to another pipeline (the URL names both)."""
    execution = service.get_execution(execution_id)
    if execution.pipeline != name:
        raise NotFound(f"pipeline {name!r} has no execution {execution_id}", field="execution_id")
    return execution


def _cache_note(step: StepExecution) -> str:
    """``hit`` (outputs reused), ``miss`` (it ran though it could have been reused), or blank."""
    if step.cached_from is not None:
        return "hit"
    if step.status.value in ("Succeeded", "Failed", "Stopped") and step.cache_key is not None:
        return "miss"
    return ""


def step_state(step: StepExecution) -> dict[str, Any]:
    """What the live page needs of a step: status and its colour, duration, cache use, attempts."""
    duration = step.duration
    return {
        "name": step.step_name,
        "status": step.status.value,
        "colour": STATUS_COLOURS.get(step.status.value),
        "seconds": None if duration is None else round(duration.total_seconds(), 3),
        "cache": _cache_note(step),
        "attempts": step.attempts,
        "error": step.error,
    }


def execution_graph(execution: PipelineExecution) -> str:
    """The execution's DAG as SVG: one node per step, coloured by status, linking to the step's page."""
    base = execution_url(execution)
    nodes = [
        GraphNode(
            id=step.step_name,
            label=step.step_name,
            status=step.status.value,
            href=f"{base}/steps/{quote(step.step_name, safe='')}",
            detail=f"{step.step_type} · {step.status.value}",
        )
        for step in execution.steps
    ]
    edges = [(up, step.step_name) for step in execution.steps for up in step.depends_on]
    return render_svg(layout(nodes, edges))


# ------------------------------------------------------------------------------------------ pages


@router.get("/pipelines")
def pipelines_page(request: Request) -> HTMLResponse:
    service = backend_of(request).pipelines
    return render(
        request,
        "pipelines/list.html",
        title="Pipelines",
        pipelines=service.list_pipelines(),
        executions=service.list_executions(limit=EXECUTIONS_SHOWN),
    )


@router.get("/pipelines/{name}")
def pipeline_page(request: Request, name: str) -> HTMLResponse:
    service = backend_of(request).pipelines
    summary = service.get_pipeline(name)
    versions = service.list_versions(name)
    latest = service.get_version(name)
    return render(
        request,
        "pipelines/pipeline.html",
        title=f"Pipeline {name}",
        pipeline=summary,
        versions=sorted(versions, key=lambda v: v.version, reverse=True),
        parameters=latest.definition.get("parameters", []),
        executions=service.list_executions(pipeline=name, limit=EXECUTIONS_SHOWN),
        can_run=has_role(current_principal(), "scientist"),
    )


@router.get("/pipelines/{name}/versions/{version}")
def version_page(request: Request, name: str, version: int) -> HTMLResponse:
    stored = backend_of(request).pipelines.get_version(name, version)
    return render(
        request,
        "pipelines/version.html",
        title=f"{name} v{version}",
        version=stored,
        definition=json.dumps(redact(stored.definition), indent=2, sort_keys=True),
    )


@router.get("/pipelines/{name}/diff")
def diff_page(request: Request, name: str, from_version: int, to_version: int) -> HTMLResponse:
    diff = backend_of(request).pipelines.diff(name, from_version, to_version)
    return render(request, "pipelines/diff.html", title=f"{name}: v{from_version} → v{to_version}", diff=diff,
                  show=_show)


def _show(value: Any) -> str:
    """A definition value for a diff cell: JSON, so strings, lists and objects read unambiguously."""
    return "" if value is None else json.dumps(value, sort_keys=True)


@router.get("/pipelines/{name}/executions/{execution_id}")
def execution_page(request: Request, name: str, execution_id: str) -> HTMLResponse:
    execution = _execution(backend_of(request).pipelines, name, execution_id)
    return render(
        request,
        "pipelines/execution.html",
        title=f"{name} execution {execution_id}",
        execution=execution,
        graph=svg(execution_graph(execution)),
        states={s.step_name: step_state(s) for s in execution.steps},
        base=execution_url(execution),
        can_run=has_role(current_principal(), "scientist"),
        parameters=json.dumps(redact_mapping(execution.parameters), sort_keys=True),
    )


@router.get("/pipelines/{name}/executions/{execution_id}/state")
def execution_state(request: Request, name: str, execution_id: str) -> dict[str, Any]:
    """The execution's status and its steps' states, polled by the execution page while it runs."""
    execution = _execution(backend_of(request).pipelines, name, execution_id)
    return {
        "id": execution.id,
        "status": execution.status.value,
        "terminal": execution.status.terminal or execution.status.value == "Interrupted",
        "failure_reason": execution.failure_reason,
        "steps": [step_state(s) for s in execution.steps],
    }


@router.get("/pipelines/{name}/executions/{execution_id}/steps/{step}")
def step_page(request: Request, name: str, execution_id: str, step: str, attempt: int | None = None) -> HTMLResponse:
    service = backend_of(request).pipelines
    execution = _execution(service, name, execution_id)
    try:
        record = execution.step(step)
    except KeyError:
        raise NotFound(f"pipeline execution {execution_id} has no step {step!r}", field="step") from None
    logs = {}
    if record.attempts or record.cached_from is not None:
        for stream in ("stdout", "stderr"):
            try:
                text = service.logs(execution_id, step, stream=stream, attempt=attempt)
            except NotFound:
                text = ""
            logs[stream] = text[-LOG_CHARS:]
    return render(
        request,
        "pipelines/step.html",
        title=f"{name}: {step}",
        execution=execution,
        step=record,
        base=execution_url(execution),
        logs=logs,
        cache=service.explain_cache(execution_id, step) if record.status.terminal else None,
        properties=None if record.properties is None else json.dumps(record.properties, indent=2, sort_keys=True),
        can_run=has_role(current_principal(), "scientist"),
        output_files=service.list_outputs(execution_id, step) if record.outputs else [],
    )


@router.get("/pipelines/{name}/executions/{execution_id}/steps/{step}/outputs/{output}/{path:path}")
def output_file(request: Request, name: str, execution_id: str, step: str, output: str, path: str) -> StreamingResponse:
    """One file of a step's output, as a download."""
    service = backend_of(request).pipelines
    _execution(service, name, execution_id)  # a 404 unless the execution is of that pipeline
    stream = service.open_output(execution_id, step, output, path)
    return download(stream, path, "application/octet-stream")


# ---------------------------------------------------------------------------------------- actions


def parse_parameters(declarations: list[dict[str, Any]], form: FormData) -> dict[str, Any]:
    """The start form's parameter fields, typed by the pipeline's declarations (``param.<name>``).

    An empty field keeps the parameter's default; a box left unticked is ``False`` for a bool.

    Raises:
        InvalidInput: for a field that does not read as its parameter's type.
    """
    values: dict[str, Any] = {}
    for declaration in declarations:
        parameter = Parameter.from_declaration(declaration)
        raw = form.get(f"param.{parameter.name}")
        if parameter.type is bool:
            if f"param.{parameter.name}.present" in form:
                values[parameter.name] = raw is not None
            continue
        if isinstance(raw, str) and raw.strip() != "":
            values[parameter.name] = parameter.parse(raw.strip())
    return values


@router.post("/pipelines/{name}/start", dependencies=[needs(Permission.WRITE), Csrf])
def start(request: Request, name: str, form: Form) -> RedirectResponse:
    service = backend_of(request).pipelines
    version = service.get_version(name)
    cache = form.get("cache") is not None
    execution = service.start(
        name, parameters=parse_parameters(version.definition.get("parameters", []), form), cache=cache
    )
    return RedirectResponse(execution_url(execution), status_code=303)


# The buttons of an execution page: each calls the service method of its name and shows the
# execution it leads to (retry makes a new one).
Control = Annotated[Literal["stop", "resume", "retry"], Path(description="what to do with the execution")]


@router.post("/pipelines/{name}/executions/{execution_id}/{control}", dependencies=[needs(Permission.WRITE), Csrf])
def steer(request: Request, name: str, execution_id: str, control: Control) -> RedirectResponse:
    service = backend_of(request).pipelines
    execution = _execution(service, name, execution_id)
    action: Callable[[str], PipelineExecution] = getattr(service, control)
    return RedirectResponse(execution_url(action(execution.id)), status_code=303)


@router.post("/pipelines/{name}/executions/{execution_id}/steps/{step}/signal",
             dependencies=[needs(Permission.WRITE), Csrf])
def signal(request: Request, name: str, execution_id: str, step: str, form: Form) -> RedirectResponse:
    service = backend_of(request).pipelines
    execution = _execution(service, name, execution_id)
    raw = form.get("payload")
    payload = None
    if isinstance(raw, str) and raw.strip():
        check_json_depth(raw, "payload")
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"the signal's payload is not JSON: {exc.msg}", field="payload") from None
    service.signal(execution.id, step, payload)
    return RedirectResponse(execution_url(execution), status_code=303)
