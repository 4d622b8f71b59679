"""A step's outputs as files: what :meth:`PipelineService.list_outputs` lists and ``open_output`` opens.

A step's outputs are references into the artifact store (:class:`StepArtifact`): a folder
``outputs/<name>`` under its step execution, or under the step whose results a cached step reused.
Here each is unfolded into its files, named by the output and the file's path within it, so a
caller never needs to know where a cached step's files really live.
"""

from __future__ import annotations

from slipway.errors import InvalidInput, NotFound
from slipway.pipelines._records import OutputFile, StepExecution
from slipway.store.artifacts import ArtifactStore, Owner, normalize_path


def output_files(store: ArtifactStore, step: StepExecution) -> list[OutputFile]:
    """Every file of every output of ``step``, by output name then path."""
    found = []
    for out in step.outputs:
        owner = Owner(out.owner_kind, out.owner_id)
        if not out.is_dir:
            info = store.info(owner, out.path)
            found.append(OutputFile(output=out.name, path=out.path.rsplit("/", 1)[-1], size=info.size or 0,
                                    sha256=info.sha256 or ""))
            continue
        for info in store.list(owner, out.path, recursive=True):
            if not info.is_dir:
                found.append(OutputFile(output=out.name, path=info.path[len(out.path) + 1:], size=info.size or 0,
                                        sha256=info.sha256 or ""))
    return sorted(found, key=lambda f: (f.output, f.path))


def output_location(step: StepExecution, output: str, path: str) -> tuple[Owner, str]:
    """Where the file ``path`` of ``output`` is stored.

    Raises:
        NotFound: for an output the step does not have.
        InvalidInput: for a path that leaves the output.
    """
    by_name = {out.name: out for out in step.outputs}
    if output not in by_name:
        known = ", ".join(sorted(by_name)) or "none"
        raise NotFound(f"step {step.step_name!r} has no output {output!r} (its outputs: {known})", field="output")
    out = by_name[output]
    path = normalize_path(path)
    if not out.is_dir:
        if path != out.path.rsplit("/", 1)[-1]:
            raise NotFound(f"output {output!r} is the file {out.path.rsplit('/', 1)[-1]!r}", field="path")
        return Owner(out.owner_kind, out.owner_id), out.path
    if not path:
        raise InvalidInput(f"name a file of output {output!r}", field="path")
    return Owner(out.owner_kind, out.owner_id), f"{out.path}/{path}"
