"""Project templates: a new repository with a model-build pipeline, deployment and CI, ready to run.

Example:
    >>> from slipway.projects import init_project, list_templates
    >>> [t.name for t in list_templates()]
    ['build-deploy']
    >>> init_project("rings", directory="rings")  # doctest: +SKIP

``slipway project init NAME --template build-deploy`` does the same from the shell; see
``docs/projects.md`` for what the template contains.
"""

from slipway.projects._templates import Template, init_project, list_templates

__all__ = ["Template", "init_project", "list_templates"]
