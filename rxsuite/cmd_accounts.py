"""`rxsuite accounts create|delete --env NAME`: synthetic users through GoTrue's admin API (service-role key by
the variable the environment file's `service_key_env` names).

create --count N [--roles patient,doctor,pharmacist] [--csv PATH] [--force]: N users, roles in turn, e-mails
under the file's `synthetic_domain` only; writes PATH (email,password,role,user_id; mode 600; default: the file
the `credentials_csv_env` variable names, else .rxsuite/accounts/<env>.csv), never over an existing one without
--force. delete [--csv PATH] [--soft]: removes exactly the users PATH lists, then PATH; a user the platform will
not delete because rows reference it (GoTrue: 500 "Database error deleting user") is soft-deleted instead (it can
never sign in again, its rows stay); --soft soft-deletes every user.
Exit codes: 0 done; 1 some accounts could not be deleted; 2 refused or could not run (nothing touched when refused;
a create that failed half way still writes the accounts it made); 130/143 stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from accounts.job import AccountsRequest, execute, plan
from rxcore.jobs import Result
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("accounts", help="create or delete synthetic accounts (GoTrue admin API)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="accounts_action", required=True, metavar="ACTION")
    for action, text in (("create", "create N synthetic users and write their credentials CSV"),
                         ("delete", "delete the users a credentials CSV lists")):
        sub = actions.add_parser(action, help=text, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
        sub.add_argument("--csv", type=Path, help="the credentials CSV (default: see above)")
        sub.add_argument("--allow-production", action="store_true", help="required for kind production")
        if action == "create":
            sub.add_argument("--count", type=int, required=True, help="number of accounts")
            sub.add_argument("--roles", default="patient,doctor,pharmacist",
                             help="roles, assigned in turn (default: patient,doctor,pharmacist)")
            sub.add_argument("--force", action="store_true", help="replace an existing CSV")
        else:
            sub.add_argument("--soft", action="store_true",
                             help="soft-delete every user (GoTrue keeps the row; it can no longer sign in)")
        sub.set_defaults(func=run_accounts)


def run_accounts(args: argparse.Namespace) -> int:
    request = AccountsRequest(action=args.accounts_action, env=args.env, csv=args.csv,
                              count=getattr(args, "count", 0), roles=getattr(args, "roles", AccountsRequest.roles),
                              force=getattr(args, "force", False), soft=getattr(args, "soft", False),
                              allow_production=args.allow_production)
    return run_job(plan, execute, request, f"rxsuite accounts {args.accounts_action}", raise_first=True,
                   show=_show)


def _show(result: Result) -> None:
    print(f"{result.status}: {result.reason}")
    csv = result.details.get("csv")
    if result.details.get("created"):
        print(f"credentials {csv} (mode 600); point the environment's credentials_csv_env variable at it")
    elif result.details.get("csv_removed"):
        print(f"removed {csv}")
