"""Deployment and serving: endpoints of model versions, safe rollouts, and the inference server.

The control plane (:class:`ServingService`) keeps endpoints, their variants and deployments in the
metadata database; the data plane (:func:`create_inference_app`) serves them over HTTP, splits
traffic, captures data and reports what it sees back, so alarms can roll a deployment back. A
serving bundle (:func:`bundle_model`, :func:`bundle_endpoint`, :func:`open_bundle`) is an
endpoint and its model files in one folder, served by the same data plane with no database.

Example:
    >>> serving = slipway.get_client().serving
    >>> serving.create_endpoint("abalone", [{"model": "abalone/3"}])
    >>> serving.update_endpoint("abalone", [{"model": "abalone/4"}], strategy={"kind": "canary", "share": 0.1})
"""

from slipway.serving._app import (
    INFERENCE_ID_HEADER,
    ServingHost,
    container_routes,
    create_inference_app,
    mount_inference,
)
from slipway.serving._bundle import (
    BUNDLE_MANIFEST,
    DIGEST_ENV,
    Bundle,
    BundledModel,
    BundleManifest,
    bundle_endpoint,
    bundle_model,
    open_bundle,
)
from slipway.serving._capture import CAPTURE_PREFIX, capture_file, capture_files
from slipway.serving._metrics import MULTIPROCESS_ENV, ServingMetrics, TrafficHistory, TrafficPoint, multiprocess_folder
from slipway.serving._ray import RayEndpoint, RemoteModel, Services, ServicesOpener, bundle_services
from slipway.serving._records import (
    Alarms,
    Autoscaling,
    CaptureConfig,
    CaptureFile,
    Deployment,
    DeploymentStatus,
    Endpoint,
    EndpointStatus,
    GroundTruth,
    IngressReplicas,
    Strategy,
    Variant,
    VariantSpec,
    WindowStats,
)
from slipway.serving._routing import VARIANT_HEADER, ServedModel, VariantShare, traffic_split
from slipway.serving._runtime import REQUEST_KEY_HEADER, EndpointRuntime, ModelFailed
from slipway.serving._service import (
    Count,
    EndpointName,
    InferenceIds,
    ServingService,
    Settings,
    Variants,
    check_endpoint_name,
)
from slipway.serving._transform import batch_transform

__all__ = [
    "BUNDLE_MANIFEST",
    "Bundle",
    "BundleManifest",
    "BundledModel",
    "DIGEST_ENV",
    "bundle_endpoint",
    "bundle_model",
    "open_bundle",
    "CAPTURE_PREFIX",
    "capture_file",
    "capture_files",
    "MULTIPROCESS_ENV",
    "ServingMetrics",
    "container_routes",
    "multiprocess_folder",
    "Alarms",
    "Autoscaling",
    "CaptureConfig",
    "CaptureFile",
    "Count",
    "Deployment",
    "DeploymentStatus",
    "Endpoint",
    "EndpointName",
    "EndpointRuntime",
    "EndpointStatus",
    "GroundTruth",
    "INFERENCE_ID_HEADER",
    "IngressReplicas",
    "InferenceIds",
    "ModelFailed",
    "REQUEST_KEY_HEADER",
    "RayEndpoint",
    "RemoteModel",
    "ServedModel",
    "Services",
    "ServicesOpener",
    "ServingHost",
    "ServingService",
    "Settings",
    "Strategy",
    "TrafficHistory",
    "TrafficPoint",
    "VARIANT_HEADER",
    "Variant",
    "VariantShare",
    "VariantSpec",
    "Variants",
    "WindowStats",
    "batch_transform",
    "bundle_services",
    "check_endpoint_name",
    "create_inference_app",
    "mount_inference",
    "traffic_split",
]
