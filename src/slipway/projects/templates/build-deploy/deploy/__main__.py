"""``python -m deploy staging|production``: what CI runs once a version is approved.

``staging`` deploys the newest approved version; ``production`` deploys what staging serves and
must be run only behind the second approval (CI's protected environment or manual gate), whose
approver it records (``--approved-by``, by default the CI's user variables).
"""

from __future__ import annotations

import argparse
import os

from slipway import Client
from slipway.errors import SlipwayError

from deploy import deploy_production, deploy_staging
from model_build.config import load_config


def _ci_user() -> str | None:
    for variable in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "USER"):
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("stage", choices=["staging", "production"])
    parser.add_argument("--version", type=int, help="staging: this approved version, not the newest")
    parser.add_argument("--approved-by", default=_ci_user(), help="production: who gave the second approval")
    args = parser.parse_args(argv)
    config = load_config()
    try:
        with Client() as client:
            if args.stage == "staging":
                endpoint = deploy_staging(client, config, args.version)
            else:
                if not args.approved_by:
                    parser.error("production needs --approved-by: who approved this deployment")
                endpoint = deploy_production(client, config, args.approved_by)
    except SlipwayError as exc:
        print(f"error: {exc.message}")
        return 1
    served = ", ".join(v.model for v in endpoint.variants)
    rolling = f"; rolling out {endpoint.deployment.target[0].model}" if endpoint.deployment else ""
    print(f"{endpoint.name}: {endpoint.status.value}, serving {served}{rolling}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
