"""The trust mark: an admin's word that a version's files may be loaded with formats that run code.

A version packaged with a pickle-based flavor (``pyfunc``'s cloudpickle, MLflow's flavors, or
skops with types beyond its safe list) runs code when it is loaded. Embedded, the caller vouches
for files on their own machine (``load_model(..., trusted=True)``). A server takes nobody's word
in a request: it loads such a version — to serve it, in a pipeline's Transform step, in a batch
transform — only when an admin has marked the version trusted. The mark is a column of the version
(who and when), shown with it everywhere; marking and revoking are audited
(``model_version.trust``, ``model_version.distrust``), and under separation of duties nobody
marks a version they registered (:meth:`~slipway.registry._policy.ApprovalPolicy.check_trust`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Row, update

from slipway._kinds import ObjectKind
from slipway._principal import Principal
from slipway._time import now_ms
from slipway.events import record_change
from slipway.registry._records import ModelVersion
from slipway.registry._tables import model_versions


def set_trust(conn: Connection, row: Row[object], who: Principal, *, trusted: bool, comment: str | None) -> bool:
    """Mark (or unmark) the version of ``row`` trusted; False if it already was (or was not).

    The update is conditional on the current mark, so two admins doing the same at once record
    one change, not two.
    """
    v = model_versions.c
    now = now_ms()
    changed = conn.execute(
        update(model_versions)
        .where(v.id == row.id, v.trusted_by.is_(None) if trusted else v.trusted_by.is_not(None))
        .values(
            trusted_by=who.name if trusted else None,
            trusted_at=now if trusted else None,
            updated_by=who.name,
            updated_at=now,
        )
    ).rowcount
    if not changed:
        return False
    record_change(
        conn,
        action="model_version.trust" if trusted else "model_version.distrust",
        object_kind=ObjectKind.MODEL_VERSION,
        object_id=str(row.id),
        details={"group": row.group_name, "version": row.version, "before": not trusted, "after": trusted,
                 "comment": comment},
    )
    return True


def effective_trust(version: ModelVersion, trusted: bool | Iterable[str]) -> bool | Iterable[str]:
    """What loading ``version`` may trust: everything if an admin marked it, else what the caller gave.

    A server's callers give nothing: only the mark counts there.
    """
    return True if version.trusted else trusted
