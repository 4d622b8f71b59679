"""The exception and the warning that belong to model packaging.

``UntrustedModel`` is a :class:`slipway.errors.PermissionDenied`, so every face maps it to 403 /
exit 3 and the remote client, which knows only the base tree, rebuilds it as ``PermissionDenied``.
"""

from __future__ import annotations

from slipway.errors import PermissionDenied


class UntrustedModel(PermissionDenied):
    """Loading (or saving) the package would need trust the caller did not give.

    ``details["untrusted"]`` lists the type names to pass as ``trusted=[...]``; it is empty when
    only ``trusted=True`` can do (a cloudpickle file cannot be checked type by type).
    """

    code = "UNTRUSTED_MODEL"


class SlipwayWarning(UserWarning):
    """Something works but may not work as expected, such as a model loaded under other versions."""
