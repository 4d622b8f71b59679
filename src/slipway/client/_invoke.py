"""Calling an endpoint's model once, the same way embedded and remote.

Remote, the request goes to the server's inference route (``POST /endpoints/NAME/invocations``,
outside the REST API's prefix, where ``slipway server`` mounts the serving app); embedded, a
serving host in this process loads the endpoint's models and answers. Either way the answer is
the predictions with the inference id and the variant that answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.serving import INFERENCE_ID_HEADER, VARIANT_HEADER, ServingHost, check_endpoint_name

if TYPE_CHECKING:
    from slipway.client._client import Client


def invoke_endpoint(
    client: Client, name: str, body: bytes, content_type: str, *, variant: str | None = None
) -> dict[str, Any]:
    """Send one request body (JSON or CSV, per ``content_type``) to endpoint ``name``.

    Args:
        variant: ask this variant rather than the traffic split.

    Returns:
        ``{"predictions": ..., "inference_id": ..., "variant": ...}`` (a remote answer keeps any
        other fields the server sent).

    Raises:
        NotFound: for an unknown endpoint or variant; InvalidInput for a body the model refuses.

    Example:
        >>> invoke_endpoint(client, "abalone", b'{"inputs": {"length": [0.45]}}', "application/json")  # doctest: +SKIP
        {'predictions': [9.7], 'inference_id': '01j...', 'variant': 'blue'}
    """
    headers = {"content-type": content_type, **({VARIANT_HEADER: variant} if variant else {})}
    if client._http is not None:
        answer, response_headers = client._http.post_raw(
            f"/endpoints/{check_endpoint_name(name)}/invocations", body, headers
        )
        return {**answer, "inference_id": response_headers.get(INFERENCE_ID_HEADER),
                "variant": response_headers.get(VARIANT_HEADER)}
    backend = client.backend
    host = ServingHost(backend.serving, backend.registry, backend.artifacts, poll_seconds=3600)
    try:
        done = host.start(name).invoke(body, content_type, headers)
    finally:
        host.close()
    return {"predictions": done.predictions, "inference_id": done.inference_id, "variant": done.variant}
