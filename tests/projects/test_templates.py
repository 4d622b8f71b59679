"""Project templates: a generated project is complete, its CI files parse, and its own tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from slipway import __version__
from slipway.cli import app
from slipway.errors import Conflict, InvalidInput, NotFound
from slipway.projects import init_project, list_templates


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_project("rings", "build-deploy", tmp_path_factory.mktemp("projects") / "rings")


@pytest.fixture
def cli() -> Callable[..., Result]:
    return lambda *args: CliRunner().invoke(app, list(args))


def test_the_build_deploy_template_is_listed() -> None:
    assert [t.name for t in list_templates()] == ["build-deploy"]


def test_a_project_has_a_pipeline_deployment_tests_and_ci_for_three_systems(project: Path) -> None:
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert {
        "model_build/pipeline.py",
        "model_build/steps.py",
        "deploy/__init__.py",
        "project.toml",
        "tests/test_pipeline.py",
        "tests/test_deploy.py",
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "Jenkinsfile",
        ".gitignore",
        "requirements.txt",
    } <= files
    assert "template.toml" not in files and not any("__pycache__" in f for f in files)
    # The name is filled in where it belongs, and CI syntax that looks alike is left alone.
    assert 'group = "rings"' in (project / "project.toml").read_text()
    assert "${{ secrets.SLIPWAY_TOKEN }}" in (project / ".github/workflows/ci.yml").read_text()
    assert "{{" not in (project / "README.md").read_text()
    # Installs Slipway under its published name, at least the version that wrote the project.
    assert f"slipway-mlops[sklearn,postgres,s3]>={__version__}" in (project / "requirements.txt").read_text()


def test_github_actions_tests_builds_and_deploys_production_behind_a_protected_environment(project: Path) -> None:
    jobs = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]
    assert list(jobs) == ["test", "build", "deploy-staging", "deploy-production"]
    assert [jobs[j].get("needs") for j in jobs] == [None, "test", "build", "deploy-staging"]
    assert jobs["deploy-production"]["environment"] == "production"
    commands = [s["run"] for job in jobs.values() for s in job["steps"] if "run" in s]
    assert {"python -m pytest", "python -m model_build", "python -m deploy staging"} <= set(commands)


def test_gitlab_ci_makes_production_a_manual_job(project: Path) -> None:
    ci = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    assert ci["stages"] == ["test", "build", "staging", "production"]
    assert ci["deploy-production"]["rules"][0]["when"] == "manual"
    assert ci["deploy-production"]["environment"]["name"] == "production"
    assert ci["test"]["script"] == ["python -m pytest"]


def test_the_jenkinsfile_asks_an_approver_before_production(project: Path) -> None:
    text = (project / "Jenkinsfile").read_text()
    assert text.count("{") == text.count("}")
    stages = [line.split("'")[1] for line in text.splitlines() if line.strip().startswith("stage(")]
    assert stages == ["Install", "Test", "Build", "Deploy staging", "Deploy production"]
    production = text[text.index("stage('Deploy production')") :]
    assert "submitter 'approvers'" in production and "deploy production" in production


def test_the_generated_projects_own_tests_pass(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert not (project / ".slipway").exists()  # the tests wrote into a temporary store only


def test_init_refuses_a_folder_with_files_in_it(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="not an empty folder"):
        init_project("rings", directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_init_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="lower-case") as bad_name:
        init_project("Rings_2", directory=tmp_path / "a")
    assert bad_name.value.field == "name"
    with pytest.raises(NotFound, match="known: build-deploy"):
        init_project("rings", "deploy-only", directory=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_cli_lists_templates_and_creates_a_project(cli: Callable[..., Result], tmp_path: Path) -> None:
    listed = cli("project", "templates")
    assert listed.exit_code == 0 and "build-deploy" in listed.stdout

    made = cli("project", "init", "shells", "--directory", str(tmp_path / "shells"))
    assert made.exit_code == 0, made.output
    assert "python -m model_build" in made.stdout
    assert (tmp_path / "shells" / "Jenkinsfile").is_file()

    assert cli("project", "init", "clams").exit_code == 0  # by default into ./NAME
    assert (tmp_path / "clams" / "project.toml").is_file()

    again = cli("project", "init", "shells", "--directory", str(tmp_path / "shells"))
    assert again.exit_code == 2 and "not an empty folder" in again.stderr
