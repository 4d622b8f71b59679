"""Settings: built once at start-up from defaults, ``slipway.toml`` and the environment.

Nothing reads the environment at import time; call :func:`load_settings` (the client and the CLI
do it for you). Each value remembers where it came from, so ``slipway config`` can say why a
setting has the value it has.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from slipway._names import ALIAS
from slipway.errors import InvalidInput

# name -> (environment variable, key in slipway.toml)
_KEYS: dict[str, str] = {
    "home": "SLIPWAY_HOME",
    "db_url": "SLIPWAY_DB_URL",
    "artifact_url": "SLIPWAY_ARTIFACT_URL",
    "server_url": "SLIPWAY_SERVER_URL",
    "token": "SLIPWAY_TOKEN",
    "online_url": "SLIPWAY_ONLINE_URL",
    "dataset_roots": "SLIPWAY_DATASET_ROOTS",
    "separation_of_duties": "SLIPWAY_SEPARATION_OF_DUTIES",
    "webhook_hosts": "SLIPWAY_WEBHOOK_HOSTS",
    "pipeline_modules": "SLIPWAY_PIPELINE_MODULES",
    "light_step_modules": "SLIPWAY_LIGHT_STEP_MODULES",
    "max_request_bytes": "SLIPWAY_MAX_REQUEST_BYTES",
    "max_upload_bytes": "SLIPWAY_MAX_UPLOAD_BYTES",
    "scheduler_interval": "SLIPWAY_SCHEDULER_INTERVAL",
    "session_ttl": "SLIPWAY_SESSION_TTL",
    "session_max_age": "SLIPWAY_SESSION_MAX_AGE",
    "allowed_hosts": "SLIPWAY_ALLOWED_HOSTS",
    "db_timeout": "SLIPWAY_DB_TIMEOUT",
    "db_synchronous": "SLIPWAY_DB_SYNCHRONOUS",
    "async_logging": "SLIPWAY_ASYNC_LOGGING",
    "protected_aliases": "SLIPWAY_PROTECTED_ALIASES",
    "retries": "SLIPWAY_RETRIES",
    "retry_backoff": "SLIPWAY_RETRY_BACKOFF",
    "lease_seconds": "SLIPWAY_LEASE_SECONDS",
}
DEFAULT_MAX_REQUEST_BYTES = 64 << 20  # a JSON body is parsed in memory; a full metrics batch is under 20 MiB
DEFAULT_SCHEDULER_INTERVAL = 5.0  # seconds: a schedule fires at most this late, a rule acts this soon
DEFAULT_DB_TIMEOUT = 30.0  # seconds a call waits for a database lock or connection before a 503
DB_SYNCHRONOUS_LEVELS = ("NORMAL", "FULL")  # SQLite's PRAGMA synchronous levels a store may run at
DEFAULT_DB_SYNCHRONOUS = "NORMAL"  # WAL + NORMAL: a commit survives a crash of the process, not of the OS
DEFAULT_MAX_UPLOAD_BYTES = 8 << 30  # artifact, model file and dataset uploads are streamed to disk
DEFAULT_SESSION_TTL = 12 * 3600.0  # seconds a web UI login lasts, and what a renewal gives again
DEFAULT_SESSION_MAX_AGE = 7 * 86400.0  # seconds after login past which a session is not renewed
DEFAULT_PROTECTED_ALIASES = ("prod", "production", "champion")
DEFAULT_RETRIES = 3  # a remote call that may be repeated is tried again this many times after a blip
DEFAULT_RETRY_BACKOFF = 0.5  # seconds before the first retry, doubled for each further one
DEFAULT_LEASE_SECONDS = 30.0  # how long a dead orchestrator's or worker's claim holds its work


@dataclass(frozen=True)
class Settings:
    """The effective configuration.

    Attributes:
        home: folder for the embedded engines (SQLite file, local artifacts).
        db_url: SQLAlchemy URL of the metadata database.
        artifact_url: a local folder or an fsspec URL such as ``s3://bucket/prefix``.
        server_url: when set, the SDK talks to this ``slipway server`` instead of the local store.
        token: API token sent to the server in remote mode.
        online_url: the online feature store, ``sqlite:///path`` or ``redis://host:port/db``
            (default: ``online.db`` under home).
        dataset_roots: folders a dataset registration may read local files from (separated by
            ``os.pathsep``); None allows any path the process can read. A shared server sets it.
        separation_of_duties: on a server, nobody may approve a model version they registered
            themselves (on by default; ``false`` turns it off). Embedded mode never checks it.
        webhook_hosts: the only hosts webhooks may call (comma-separated; ``*.example.com`` for
            subdomains; loopback only if listed); None: any host whose addresses are all public.
        pipeline_modules: modules (and their submodules) whose functions a pipeline definition
            sent to a server may name (comma-separated; ``*`` for any). None: built-in steps only.
        light_step_modules: modules (and their submodules) whose step functions a server's
            orchestrator may run *light*, in its own process with no isolation, when a definition
            marks a step ``light`` (comma-separated; ``*`` for any step, built-in ones too). None:
            no step runs light on a server, and a definition asking for it is refused.
        max_request_bytes: the largest request body a server accepts (JSON and forms).
        max_upload_bytes: the largest streamed upload (artifacts, model files, dataset files).
        scheduler_interval: seconds between two rounds of ``slipway server``'s scheduler thread
            (due schedules, then rule actions); 0 turns the thread off.
        session_ttl: seconds a web UI login lasts before its session token expires (12 hours);
            ``POST /api/v1/session/renew`` gives it that long again from the moment it is called.
        session_max_age: seconds after login past which a session is no longer renewed (7 days).
        allowed_hosts: the host names a server answers (comma-separated; ``*.example.com`` for
            subdomains, ``*`` for any); a request addressed to another gets 421. None: the
            address it is bound to and the loopback names (see :mod:`slipway._origins`).
        db_timeout: seconds a call waits for the metadata database (a lock another writer holds,
            a free connection, PostgreSQL to answer) before it fails with ServiceUnavailable
            (a server answers 503 with ``Retry-After``).
        db_synchronous: how durable a commit to a SQLite metadata database is (ignored by
            PostgreSQL). ``NORMAL`` (default, with the WAL journal): a commit survives a crash of
            the process, but the last commits before a power loss or OS crash may be lost (the
            database stays consistent). ``FULL``: an fsync per commit, so a commit also survives
            power loss, at the cost of a disk flush on every write.
        async_logging: runs started with ``start_run()`` log metrics asynchronously by default
            (``log_metric`` returns before the point is stored; see docs/tracking.md).
        protected_aliases: model version aliases that point only at Approved versions and move
            only with the approve permission (comma-separated; default ``prod,production,champion``).
        retries: in remote mode, how many times a call that may safely be repeated (GET, PUT, DELETE,
            and operations declared idempotent) is tried again after a connection error or a 429,
            502, 503 or 504 answer; 0 turns retrying off.
        retry_backoff: seconds before the first retry; each further retry waits twice as long (with
            jitter, at most 30 s), or what the server's ``Retry-After`` asks if that is longer.
        lease_seconds: how long a claim of a server's or worker's lasts unless renewed (a pipeline
            execution's orchestrator renews it every half second): when the holder dies, another
            worker takes the work over after at most this long (30).
        sources: for each attribute, where its value came from.
    """

    home: Path
    db_url: str
    artifact_url: str
    server_url: str | None = None
    token: str | None = None
    online_url: str = ""
    dataset_roots: tuple[Path, ...] | None = None
    separation_of_duties: bool = True
    webhook_hosts: tuple[str, ...] | None = None
    pipeline_modules: tuple[str, ...] | None = None
    light_step_modules: tuple[str, ...] | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    scheduler_interval: float = DEFAULT_SCHEDULER_INTERVAL
    session_ttl: float = DEFAULT_SESSION_TTL
    session_max_age: float = DEFAULT_SESSION_MAX_AGE
    allowed_hosts: tuple[str, ...] | None = None
    db_timeout: float = DEFAULT_DB_TIMEOUT
    db_synchronous: str = DEFAULT_DB_SYNCHRONOUS
    async_logging: bool = False
    protected_aliases: tuple[str, ...] = DEFAULT_PROTECTED_ALIASES
    retries: int = DEFAULT_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def remote(self) -> bool:
        return bool(self.server_url)

    def items(self) -> list[tuple[str, str | None, str]]:
        """(name, value, source) rows for display; the token is never shown."""
        rows = []
        for name in _KEYS:
            value = getattr(self, name)
            if name == "token" and value:
                value = "****"
            elif name == "dataset_roots" and value is not None:
                value = os.pathsep.join(str(p) for p in value)
            elif isinstance(value, tuple):
                value = ",".join(value)
            rows.append((name, None if value is None else str(value), self.sources.get(name, "default")))
        return rows


def _names(value: object) -> tuple[str, ...] | None:
    """A list setting: a TOML array, or a comma-separated string from the environment."""
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _aliases(value: object) -> tuple[str, ...]:
    """The protected aliases: each must be a valid alias, so a typo cannot leave one unprotected."""
    names = _names(value)
    if names is None:
        return DEFAULT_PROTECTED_ALIASES
    return tuple(ALIAS.check(name, "protected_aliases", "a protected alias") for name in names)


def _byte_count(value: object, name: str, default: int) -> int:
    """A size setting in bytes; a clear error for anything but a positive integer."""
    if value is None:
        return default
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if count <= 0:
        raise InvalidInput(f"{name} must be a positive number of bytes, got {value!r}", field=name)
    return count


def _count(value: object, name: str, default: int) -> int:
    """A whole number >= 0 from TOML or the environment."""
    if value is None:
        return default
    try:
        count = int(str(value))
    except ValueError:
        count = -1
    if count < 0:
        raise InvalidInput(f"{name} must be a whole number >= 0, got {value!r}", field=name)
    return count


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}", field=str(path)) from None
    section = data.get("slipway", data)
    if not isinstance(section, dict):
        raise InvalidInput(f"{path}: [slipway] must be a table", field=str(path))
    unknown = sorted(set(section) - set(_KEYS))
    if unknown:
        raise InvalidInput(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    return section


def _seconds(value: object, name: str, default: float) -> float:
    """A duration in seconds, >= 0, from TOML (a number) or the environment (its text)."""
    if value is None:
        return default
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses NaN
        raise InvalidInput(f"{name} must be a number of seconds >= 0, got {value!r}", field=name)
    return seconds


def _positive_seconds(value: object, name: str, default: float) -> float:
    """A duration in seconds that must be more than 0 (a lifetime)."""
    seconds = _seconds(value, name, default)
    if seconds <= 0:
        raise InvalidInput(f"{name} must be a number of seconds > 0, got {value!r}", field=name)
    return seconds


def _synchronous(value: object) -> str:
    """SQLite's commit durability: NORMAL or FULL (any case)."""
    if value is None or value == "":
        return DEFAULT_DB_SYNCHRONOUS
    level = str(value).strip().upper()
    if level not in DB_SYNCHRONOUS_LEVELS:
        raise InvalidInput(f"db_synchronous must be NORMAL or FULL, got {value!r}", field="db_synchronous")
    return level


def _flag(value: object, name: str) -> bool:
    """A yes/no setting from TOML (a boolean) or the environment (``true``/``false``, ``1``/``0``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidInput(f"{name} must be true or false, not {value!r}", field=name)


def load_settings(
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    home: str | Path | None = None,
    db_url: str | None = None,
    artifact_url: str | None = None,
    server_url: str | None = None,
    token: str | None = None,
) -> Settings:
    """Build the settings: keyword arguments beat the environment, which beats slipway.toml.

    Args:
        env: the environment to read (``os.environ`` when None).
        cwd: where ``slipway.toml`` and a relative home are looked up (the working directory).
        home, db_url, artifact_url, server_url, token: explicit values (see :class:`Settings`).

    Example:
        >>> s = load_settings(env={"SLIPWAY_HOME": "/tmp/sw"})
        >>> s.db_url
        'sqlite:////tmp/sw/slipway.db'
    """
    overrides = {"home": home, "db_url": db_url, "artifact_url": artifact_url, "server_url": server_url, "token": token}
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    values: dict[str, object] = {}
    sources: dict[str, str] = {}

    config_path = Path(env["SLIPWAY_CONFIG"]) if env.get("SLIPWAY_CONFIG") else cwd / "slipway.toml"
    if env.get("SLIPWAY_CONFIG") and not config_path.is_file():
        raise InvalidInput(f"SLIPWAY_CONFIG names {config_path}, which does not exist", field="SLIPWAY_CONFIG")
    if config_path.is_file():
        for key, value in _read_toml(config_path).items():
            values[key] = value
            sources[key] = str(config_path)
    for key, var in _KEYS.items():
        if env.get(var):
            values[key] = env[var]
            sources[key] = f"env {var}"
    for key, value in overrides.items():
        if value is not None:
            values[key] = str(value)
            sources[key] = "argument"

    home = Path(str(values.get("home", ".slipway"))).expanduser()
    if not home.is_absolute():
        home = (cwd / home).resolve()
    server = values.get("server_url")
    secret = values.get("token")
    roots = values.get("dataset_roots")
    return Settings(
        home=home,
        db_url=str(values.get("db_url") or f"sqlite:///{home / 'slipway.db'}"),
        artifact_url=str(values.get("artifact_url") or home / "artifacts"),
        server_url=str(server).rstrip("/") if server else None,
        token=str(secret) if secret else None,
        online_url=str(values.get("online_url") or f"sqlite:///{home / 'online.db'}"),
        dataset_roots=None if roots is None else tuple(Path(p) for p in str(roots).split(os.pathsep) if p),
        separation_of_duties=_flag(values.get("separation_of_duties", True), "separation_of_duties"),
        webhook_hosts=_names(values.get("webhook_hosts")),
        pipeline_modules=_names(values.get("pipeline_modules")),
        light_step_modules=_names(values.get("light_step_modules")),
        max_request_bytes=_byte_count(values.get("max_request_bytes"), "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES),
        max_upload_bytes=_byte_count(values.get("max_upload_bytes"), "max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES),
        scheduler_interval=_seconds(values.get("scheduler_interval"), "scheduler_interval",
                                    DEFAULT_SCHEDULER_INTERVAL),
        session_ttl=_positive_seconds(values.get("session_ttl"), "session_ttl", DEFAULT_SESSION_TTL),
        session_max_age=_positive_seconds(values.get("session_max_age"), "session_max_age",
                                          DEFAULT_SESSION_MAX_AGE),
        allowed_hosts=_names(values.get("allowed_hosts")),
        db_timeout=_positive_seconds(values.get("db_timeout"), "db_timeout", DEFAULT_DB_TIMEOUT),
        db_synchronous=_synchronous(values.get("db_synchronous")),
        async_logging=_flag(values.get("async_logging", False), "async_logging"),
        protected_aliases=_aliases(values.get("protected_aliases")),
        retries=_count(values.get("retries"), "retries", DEFAULT_RETRIES),
        retry_backoff=_seconds(values.get("retry_backoff"), "retry_backoff", DEFAULT_RETRY_BACKOFF),
        lease_seconds=_positive_seconds(values.get("lease_seconds"), "lease_seconds", DEFAULT_LEASE_SECONDS),
        sources=sources,
    )
