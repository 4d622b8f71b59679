"""Processing: a function, or a script run as its own process, turning input files into output folders."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput
from slipway.pipelines._code import Code, script_code
from slipway.pipelines._context import StepContext, StepOutcome, WorkContext
from slipway.pipelines._expressions import FileInput, OutputRef, PropertyFile, decode, encode
from slipway.pipelines.steps._base import Step
from slipway.pipelines.steps._function import UserFunction, outputs_written, properties_of

PROPERTIES_FILE = "properties.json"


class ScriptFailed(Exception):
    """A processing script exited with a non-zero status."""


class ProcessingStep(Step):
    """Turn inputs into output folders with a function or a script.

    With ``fn``, the function is called with ``inputs`` as keyword arguments: files and folders
    of earlier steps arrive as local paths, parameters and JSON values as values. It writes each
    declared output into ``ctx.output(name)`` and may return a dict: the step's properties.

    With ``script``, the file runs as ``python SCRIPT *arguments`` in its own process, following
    the conventions of container processing jobs: each input is copied to
    ``$SLIPWAY_INPUT_DIR/<name>``, each output is collected from ``$SLIPWAY_OUTPUT_DIR/<name>``,
    and a JSON object written to ``$SLIPWAY_PROPERTIES_FILE`` becomes the step's properties. Its
    stdout and stderr are the step's logs; a non-zero exit fails the step with ``ScriptFailed``.
    A server runs a script only from a folder its ``pipeline_modules`` setting lists.

    Args:
        name: the step's name.
        fn: the function (give ``fn`` or ``script``).
        script: the path of a Python script (give ``fn`` or ``script``).
        inputs: argument or input name -> value. A script's inputs must be files or folders
            (step outputs, :class:`~slipway.pipelines.FileInput`).
        outputs: the names of the output folders the step writes.
        arguments: command-line arguments of a script (strings, parameters, joined text).
        env: extra environment variables of a script.
        property_files: JSON files among the outputs that :class:`~slipway.pipelines.JsonGet` reads.
        **common: see :class:`~slipway.pipelines.Step`.

    Example:
        >>> split = ProcessingStep(
        ...     "Split", fn=split_data, inputs={"raw": FileInput("abalone.csv"), "test_size": 0.2},
        ...     outputs=["train", "test"],
        ... )  # doctest: +SKIP
    """

    type_name = "Processing"

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        script: str | Path | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Iterable[str] = (),
        arguments: Sequence[Any] = (),
        env: Mapping[str, Any] | None = None,
        property_files: Iterable[PropertyFile] = (),
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        if (fn is None) == (script is None):
            raise InvalidInput(f"step {name!r}: give fn or script, one of the two", field=f"steps.{name}")
        self.function = UserFunction(fn, name) if fn is not None else None
        self.script = Path(script).expanduser().resolve() if script is not None else None
        self._script_code: Code | None = None
        self.inputs = dict(inputs or {})
        self._outputs = tuple(outputs)
        self.script_arguments = list(arguments)
        self.env = dict(env or {})
        self._property_files = tuple(property_files)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self._outputs

    @property
    def property_files(self) -> tuple[PropertyFile, ...]:
        return self._property_files

    def arguments(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "arguments": self.script_arguments, "env": self.env}

    def code(self) -> Code:
        if self.function is not None:
            return self.function.code()
        if self._script_code is None:
            assert self.script is not None
            self._script_code = script_code(self.script)
        return self._script_code

    def check(self) -> None:
        super().check()
        for pf in self._property_files:
            if pf.output not in self._outputs:
                raise InvalidInput(
                    f"step {self.name!r}: property file {pf.name!r} is in output {pf.output!r}, "
                    f"which the step does not declare",
                    field=f"steps.{self.name}.property_files",
                )
        if self.function is not None:
            self.function.check(set(self.inputs))
            return
        if self.light:
            raise InvalidInput(
                f"step {self.name!r}: a script runs as a process of its own, which a light step exists to "
                "avoid; make it a function, or drop light",
                field=f"steps.{self.name}.light",
            )
        self.code()  # the script must exist
        for key, value in self.inputs.items():
            if not isinstance(value, OutputRef | FileInput):
                raise InvalidInput(
                    f"step {self.name!r}: a script's input {key!r} must be a file or folder "
                    "(a step output or a FileInput); pass values as arguments or env",
                    field=f"steps.{self.name}.inputs",
                )

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": {k: encode(v) for k, v in self.inputs.items()}, "outputs": list(self._outputs)}
        if self.script is not None:
            out["script"] = str(self.script)
            out["arguments"] = [encode(a) for a in self.script_arguments]
            out["env"] = {k: encode(v) for k, v in self.env.items()}
        if self._property_files:
            out["property_files"] = [p.to_json() for p in self._property_files]
        return out

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> ProcessingStep:
        fn = None if "script" in spec else UserFunction.load(spec).fn
        return cls(
            name,
            fn,
            script=spec.get("script"),
            inputs={k: decode(v) for k, v in spec.get("inputs", {}).items()},
            outputs=spec.get("outputs", ()),
            arguments=[decode(a) for a in spec.get("arguments", ())],
            env={k: decode(v) for k, v in spec.get("env", {}).items()},
            property_files=[PropertyFile.from_json(p) for p in spec.get("property_files", ())],
            **common,
        )

    def run(self, ctx: WorkContext) -> StepOutcome:
        for name in self._outputs:
            ctx.output_dir(name)
        inputs = ctx.localize(ctx.args["inputs"])
        if self.function is not None:
            user_ctx = StepContext(ctx.info.execution_id, self.name, ctx, self._outputs)
            properties = properties_of(self.function(inputs, user_ctx), self.name)
        else:
            properties = self._run_script(ctx)
        outputs_written(ctx, self._outputs, self.name)
        return StepOutcome(properties=properties)

    def _run_script(self, ctx: WorkContext) -> dict[str, Any] | None:
        assert self.script is not None
        expected = self.code().hash
        current = script_code(self.script).hash
        if current != expected:
            raise InvalidInput(
                f"step {self.name!r}: {self.script} changed since this pipeline version was made; "
                "retry the execution to run the script as it is now",
                field=f"steps.{self.name}.script",
            )
        properties_file = ctx.work_dir / PROPERTIES_FILE
        env = dict(os.environ)
        env.update({k: str(v) for k, v in ctx.args["env"].items()})
        env.update(
            {
                "SLIPWAY_INPUT_DIR": str(ctx.work_dir / "input"),
                "SLIPWAY_OUTPUT_DIR": str(ctx.outputs_dir),
                "SLIPWAY_PROPERTIES_FILE": str(properties_file),
                "SLIPWAY_EXECUTION_ID": ctx.info.execution_id,
                "SLIPWAY_STEP": self.name,
            }
        )
        (ctx.work_dir / "input").mkdir(parents=True, exist_ok=True)  # the work folder itself, if no input made it
        command = [sys.executable, str(self.script), *(str(a) for a in ctx.args["arguments"])]
        sys.stdout.flush()
        sys.stderr.flush()
        code = subprocess.call(command, cwd=ctx.work_dir, env=env, preexec_fn=_die_with_parent)
        if code != 0:
            raise ScriptFailed(f"{self.script.name} exited with status {code}; its stderr is in the step's logs")
        if not properties_file.is_file():
            return None
        try:
            return properties_of(json.loads(properties_file.read_text(encoding="utf-8")), self.name)
        except ValueError as exc:
            raise InvalidInput(f"step {self.name!r}: {PROPERTIES_FILE} is not JSON: {exc}") from None


def _die_with_parent() -> None:
    """In the script's process: be killed when the worker dies (Linux), so a stopped step stops."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
