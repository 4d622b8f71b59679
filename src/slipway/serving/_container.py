"""The container files beside a serving bundle: a ``Dockerfile`` and a Kubernetes manifest.

Both run exactly :data:`SERVE_COMMAND` (``slipway serve --bundle /bundle`` on port 8080), so what
runs in a container is what ``slipway serve --bundle DIR`` runs on a laptop. The image installs
this Slipway release with the ``s3`` extra (capture to S3) and pins the packages the bundled
models were made with (their manifests' ``packages``), on the Python version they were made with.
Neither file is part of what the manifest hashes: they are recipes for whoever builds the image.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from packaging.version import InvalidVersion, Version

from slipway._version import __version__

if TYPE_CHECKING:
    from slipway.serving._bundle import BundleManifest

DOCKERFILE = "Dockerfile"
KUBERNETES = "kubernetes.yaml"
BUNDLE_IN_IMAGE = "/bundle"
PORT = 8080
SERVE_COMMAND = ("slipway", "serve", "--bundle", BUNDLE_IN_IMAGE, "--host", "0.0.0.0", "--port", str(PORT))
_DISTRIBUTION = "slipway-mlops"
_NOBODY = "65534:65534"


def write_container_files(
    folder: Path, manifest: BundleManifest, digest: str, packages: Mapping[str, str]
) -> None:
    """Write :data:`DOCKERFILE` and :data:`KUBERNETES` into the bundle ``folder``.

    ``packages`` are the package versions the models were made with (``python`` included).
    """
    (folder / DOCKERFILE).write_text(dockerfile(manifest, digest, packages), encoding="utf-8")
    (folder / KUBERNETES).write_text(kubernetes(manifest, digest), encoding="utf-8")


def image_name(manifest: BundleManifest, digest: str) -> str:
    """The image tag the generated files use: ``slipway-ENDPOINT:`` and the digest's first 12 digits."""
    return f"slipway-{manifest.endpoint.name.lower()}:{digest.removeprefix('sha256:')[:12]}"


def dockerfile(manifest: BundleManifest, digest: str, packages: Mapping[str, str]) -> str:
    python = _minor(packages.get("python") or platform.python_version())
    pins = " ".join(f"'{name}=={version}'" for name, version in sorted(packages.items()) if name != "python")
    name, image = manifest.endpoint.name, image_name(manifest, digest)
    lines = [
        f"# The serving bundle of endpoint {name!r}, written by Slipway {__version__} from {manifest.source}.",
        f"# Its manifest's digest: {digest}",
        "#",
        f"#   docker build -t {image} .",
        f"#   docker run -p {PORT}:{PORT} {image}",
        "#",
        "# Data capture: -e SLIPWAY_CAPTURE_URL=s3://bucket/prefix (with AWS_* credentials, and",
        "# SLIPWAY_S3_ENDPOINT_URL for an S3-compatible server), or a folder on a mounted volume.",
        "# A model version that runs code when loaded (marked trusted by an admin) is loaded only with",
        "# -e SLIPWAY_BUNDLE_DIGEST=sha256:... as the bundle command you trust printed it (not copied",
        "# from this file: whoever can change the bundle can change this comment too).",
        f"FROM python:{python}-slim",
        f"RUN pip install --no-cache-dir '{_DISTRIBUTION}[s3]=={__version__}'" + (f" {pins}" if pins else ""),
        f"COPY . {BUNDLE_IN_IMAGE}",
        "# Nobody: the server reads the bundle and writes nothing but capture files on their way out.",
        f"USER {_NOBODY}",
        "ENV SLIPWAY_HOME=/tmp/slipway",
        f"EXPOSE {PORT}",
        f"CMD {json.dumps(list(SERVE_COMMAND))}",
    ]
    return "\n".join(lines) + "\n"


def kubernetes(manifest: BundleManifest, digest: str) -> str:
    """A Deployment (one replica; the probes ask /ready and /health) and a ClusterIP Service on port 80."""
    name = manifest.endpoint.name.lower().replace("_", "-").replace(".", "-")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "slipway"}
    # The server answers only the host names it is known by (DNS rebinding): the Service's, and
    # localhost for the kubelet's probes, which send it as their Host header.
    hosts = ["localhost", name, f"{name}.default.svc", f"{name}.default.svc.cluster.local"]
    probe = {"httpGet": {"path": "/ready", "port": PORT, "httpHeaders": [{"name": "Host", "value": "localhost"}]}}
    container: dict[str, Any] = {
        "name": "serve",
        "image": image_name(manifest, digest),
        "command": list(SERVE_COMMAND),
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [{"name": "SLIPWAY_ALLOWED_HOSTS", "value": ",".join(hosts)}],
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {**probe["httpGet"], "path": "/health"}, "periodSeconds": 10},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": {"slipway.dev/bundle-digest": digest}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    header = (
        f"# Endpoint {manifest.endpoint.name!r} from its serving bundle: build the image with the Dockerfile\n"
        "# beside this file, push it where your cluster pulls from, set the image below, then\n"
        f"# kubectl apply -f {KUBERNETES}.\n"
        "# Serving in another namespace than default: change the host names in SLIPWAY_ALLOWED_HOSTS.\n"
    )
    return header + yaml.dump_all([deployment, service], Dumper=_PlainDumper, sort_keys=False)


class _PlainDumper(yaml.SafeDumper):
    """YAML as people write it: a value repeated is written again, not as an anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def merge_packages(found: list[Mapping[str, str]]) -> dict[str, str]:
    """The package versions of several models in one: the newest where they disagree."""
    merged: dict[str, str] = {}
    for packages in found:
        for name, version in packages.items():
            if name not in merged or _newer(version, merged[name]):
                merged[name] = version
    return merged


def _newer(a: str, b: str) -> bool:
    try:
        return Version(a) > Version(b)
    except InvalidVersion:
        return a > b


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
