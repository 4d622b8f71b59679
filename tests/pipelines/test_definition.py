"""Defining pipelines: parameters, validation naming the step, the JSON definition and its round trip."""

from __future__ import annotations

import json
from pathlib import Path

import _pipeline_steps as lib
import pytest

from slipway.errors import InvalidInput
from slipway.pipelines import (
    ConditionStep,
    FailStep,
    FileInput,
    Join,
    JsonGet,
    Parameter,
    Pipeline,
    ProcessingStep,
    PropertyFile,
    RetryPolicy,
    TrainingStep,
)
from slipway.pipelines._dag import Dag
from slipway.pipelines._jsonpath import json_get, parse_json_path


def _chain() -> Pipeline:
    n = Parameter("n", int, 5, description="how many numbers")
    make = ProcessingStep("Make", lib.numbers, inputs={"n": n}, outputs=["data"])
    report = PropertyFile("Report", output="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        lib.report,
        inputs={"data": make.outputs["data"], "mse": 3.0},
        outputs=["evaluation"],
        property_files=[report],
    )
    threshold = Parameter("threshold", float, 4.0)
    ok = ProcessingStep("Total", lib.total, inputs={"data": make.outputs["data"]}, retry=RetryPolicy(2, 0.1))
    fail = FailStep("TooHigh", message=Join("MSE above ", threshold))
    check = ConditionStep(
        "Check",
        JsonGet(evaluate, report, "regression_metrics.mse.value") <= threshold,
        if_steps=[ok],
        else_steps=[fail],
    )
    return Pipeline("chain", [check], parameters=[n])


def test_steps_and_parameters_are_collected_from_references() -> None:
    p = _chain()
    assert list(p.steps) == ["Check", "Evaluate", "Make", "Total", "TooHigh"]
    assert p.dag.order == ["Make", "Evaluate", "Check", "Total", "TooHigh"]
    assert p.dag.upstream["Total"] == ("Make", "Check")
    assert set(p.parameters) == {"n", "threshold"}


def test_parameters_have_types_defaults_and_overrides() -> None:
    p = _chain()
    assert p.resolve_parameters(None) == {"n": 5, "threshold": 4.0}
    assert p.resolve_parameters({"threshold": 3}) == {"n": 5, "threshold": 3.0}  # an int is a fine float
    assert p.parse_parameters({"n": "7", "threshold": "2.5"}) == {"n": 7, "threshold": 2.5}
    with pytest.raises(InvalidInput, match="has no parameter 'nn'") as err:
        p.resolve_parameters({"nn": 1})
    assert err.value.field == "parameters.nn"
    with pytest.raises(InvalidInput, match="'n' takes a int, not '7'"):
        p.resolve_parameters({"n": "7"})
    with pytest.raises(InvalidInput, match="'n' takes a int, not True"):
        p.resolve_parameters({"n": True})
    with pytest.raises(InvalidInput, match="'x' is not one"):
        p.parse_parameters({"n": "x"})
    assert Parameter("flag", bool, False).parse("yes") is True
    with pytest.raises(InvalidInput, match="type must be int, float, str or bool"):
        Parameter("bad", list, [])
    with pytest.raises(InvalidInput, match="takes a float"):
        Parameter("bad", float, "high")


def test_a_parameter_without_default_is_required() -> None:
    p = Pipeline("req", [ProcessingStep("Sq", lib.square, inputs={"x": Parameter("x", int)})])
    with pytest.raises(InvalidInput, match="needs a value for the parameter 'x'"):
        p.resolve_parameters({})
    assert p.resolve_parameters({"x": 3}) == {"x": 3}


def test_duplicate_step_names_are_refused() -> None:
    a = ProcessingStep("Same", lib.noop)
    b = ProcessingStep("Same", lib.square, inputs={"x": 1})
    with pytest.raises(InvalidInput, match="two different steps are named 'Same'") as err:
        Pipeline("dup", [a, b])
    assert err.value.field == "steps.Same"


def test_cycles_are_refused_with_the_steps_in_them() -> None:
    a = ProcessingStep("A", lib.noop, depends_on=["C"])
    b = ProcessingStep("B", lib.noop, depends_on=[a])
    c = ProcessingStep("C", lib.noop, depends_on=[b])
    with pytest.raises(InvalidInput, match="cycle: A -> B -> C -> A"):
        Pipeline("cyclic", [c])


def test_missing_inputs_are_refused_naming_the_step() -> None:
    make = ProcessingStep("Make", lib.numbers, inputs={"n": 3}, outputs=["data"])
    with pytest.raises(InvalidInput, match="step 'Sum' needs the output 'dta' of step 'Make', which declares: data"):
        Pipeline("p", [ProcessingStep("Sum", lib.total, inputs={"data": make.outputs["dta"]})])
    with pytest.raises(InvalidInput, match=r"step 'Sum': total\(\) needs the input 'data'"):
        Pipeline("p", [ProcessingStep("Sum", lib.total, inputs={})])
    with pytest.raises(InvalidInput, match=r"step 'Sum': total\(\) takes no argument 'extra'"):
        Pipeline("p", [ProcessingStep("Sum", lib.total, inputs={"data": make.outputs["data"], "extra": 1})])
    with pytest.raises(InvalidInput, match="needs step 'Nowhere', which is not part of the pipeline"):
        Pipeline("p", [ProcessingStep("Sum", lib.noop, depends_on=["Nowhere"])])
    with pytest.raises(InvalidInput, match="reads the property file 'Nope' of step 'Make'"):
        check = ConditionStep("C", JsonGet(make, "Nope", "a") > 1, if_steps=[])
        Pipeline("p", [check])


def test_an_undeclared_parameter_in_a_stored_definition_is_refused() -> None:
    definition = Pipeline("p", [ProcessingStep("Sq", lib.square, inputs={"x": Parameter("x", int, 2)})]).definition()
    definition["parameters"] = []
    with pytest.raises(InvalidInput, match="step 'Sq' uses the parameter 'x', which the pipeline does not declare"):
        Pipeline.from_definition(definition)


def test_a_parameter_declared_twice_differently_is_refused() -> None:
    a = ProcessingStep("A", lib.square, inputs={"x": Parameter("x", int, 2)})
    b = ProcessingStep("B", lib.square, inputs={"x": Parameter("x", int, 3)})
    with pytest.raises(InvalidInput, match="parameter 'x'"):
        Pipeline("p", [a, b])


def test_the_definition_round_trips_through_json_with_the_same_digest() -> None:
    p = _chain()
    text = json.dumps(p.definition())
    again = Pipeline.from_definition(json.loads(text))
    assert again.digest() == p.digest()
    assert again.definition() == p.definition()
    step = next(s for s in p.definition()["steps"] if s["name"] == "Make")
    assert step["code"]["ref"] == "_pipeline_steps:numbers"
    assert step["inputs"] == {"n": {"parameter": "n"}}


def test_code_changes_change_the_digest(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("print('v1')\n")
    first = Pipeline("s", [ProcessingStep("Job", script=script)]).digest()
    script.write_text("print('v2')\n")
    assert Pipeline("s", [ProcessingStep("Job", script=script)]).digest() != first


def test_scripts_take_only_files_as_inputs(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("")
    with pytest.raises(InvalidInput, match="a script's input 'n' must be a file or folder"):
        Pipeline("s", [ProcessingStep("Job", script=script, inputs={"n": 3})])
    Pipeline("s", [ProcessingStep("Job", script=script, inputs={"raw": FileInput(script)})])


def test_names_and_literals_are_checked() -> None:
    with pytest.raises(InvalidInput, match="step name 'has space'"):
        ProcessingStep("has space", lib.noop)
    with pytest.raises(InvalidInput, match="cannot be part of a pipeline definition"):
        Pipeline("p", [ProcessingStep("Sq", lib.square, inputs={"x": object()})]).definition()
    with pytest.raises(InvalidInput, match="give fn or script"):
        ProcessingStep("Both", lib.noop, script="x.py")
    with pytest.raises(InvalidInput, match="'alpha' is both an input and a hyperparameter"):
        Pipeline("p", [TrainingStep("T", lib.fit_line, inputs={"alpha": 1}, hyperparameters={"alpha": 2})])


def test_dag_reach_and_cycle_paths() -> None:
    dag = Dag({"a": [], "b": ["a"], "c": ["b"], "d": ["a"]})
    assert dag.descendants(["b"]) == {"b", "c"}
    assert dag.ancestors(["c"]) == {"a", "b", "c"}
    with pytest.raises(InvalidInput, match="cycle: x -> y -> x"):
        Dag({"x": ["y"], "y": ["x"]})


def test_json_paths() -> None:
    doc = {"metrics": [{"name": "mse", "value": 4.2}], "odd key": {"a": 1}}
    assert parse_json_path("$.metrics[0].value") == ("metrics", 0, "value")
    assert json_get(doc, "metrics[-1].name") == "mse"
    assert json_get(doc, "$['odd key'].a") == 1
    with pytest.raises(InvalidInput, match=r"\$\.metrics\[0\] has no 'mse'"):
        json_get(doc, "metrics[0].mse")
    with pytest.raises(InvalidInput, match="not understood"):
        parse_json_path("metrics..x")
