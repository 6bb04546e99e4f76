"""`kumkm apikey create|rotate|revoke|list`: API keys (app.keys)."""

from __future__ import annotations

import sys

from app.cli.common import with_database
from app.infra import db
from app.security.principal import ROLES, TUJUAN


def register(sub) -> None:
    k = sub.add_parser("apikey", help="API keys").add_subparsers(dest="sub", required=True)
    s = k.add_parser("create", help="create a key; the key is the last line printed")
    s.add_argument("--role", required=True, choices=ROLES)
    s.add_argument("--wilayah", help="scope: a provinsi or kabupaten/kota code; none for national")
    s.add_argument(
        "--name",
        help="who holds it; never given twice, nor one differing only in case or spaces "
        "(stored trimmed, inner spaces as one); required for enumerators, whose "
        "records are owned by this name (default: the role)",
    )
    s.add_argument("--pii", action="store_true", help="walidata only: may see personal data unmasked")
    s.add_argument("--expires-days", type=float, help="the key stops working after this many days")
    s.add_argument(
        "--purpose",
        action="append",
        choices=TUJUAN,
        help="mitra only, required, repeatable: a purpose the partner may look up for (docs/mitra.md)",
    )
    s.add_argument("--quota", type=int, help="mitra only, required: look-ups per day (WIB); a batch row is one look-up")
    s.add_argument("--rate", type=int, help="mitra only: requests per second (default 10)")
    s.add_argument(
        "--if-exists",
        choices=["fail", "rotate"],
        default="fail",
        help="when the name (or one differing only in case or spaces) was given before: fail "
        "(default: exit 2, nothing on stdout), or rotate: its holder's next key, when the role, "
        "wilayah and pii are theirs (the old key stops at once; safe to run again)",
    )
    s.set_defaults(func=cmd_apikey_create)
    ref_help = (
        "key id, or the start of the key as `apikey list` shows it, with or without kumkm_ "
        "(several matching keys: the candidates are listed, exit 2)"
    )
    s = k.add_parser("rotate", help="replace a key (same name, role, scope); prints the new key last")
    s.add_argument("ref", help=ref_help)
    s.add_argument("--grace-hours", type=float, default=0.0, help="how long the old key keeps working")
    s.set_defaults(func=cmd_apikey_rotate)
    s = k.add_parser("revoke", help="revoke a key by id or prefix")
    s.add_argument("ref", help=ref_help)
    s.set_defaults(func=cmd_apikey_revoke)
    s = k.add_parser(
        "list",
        help="list keys (never the secrets): pii, expiry, status (active, grace until T after a rotation, expired, revoked) "
        "and a partner's purposes, quota and rate",
    )
    s.set_defaults(func=cmd_apikey_list)


def cmd_apikey_create(args) -> int:
    async def run():
        from app.keys import service

        expires = None
        if args.expires_days:
            import datetime as dt

            expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
        name = args.name or (None if args.role == "enumerator" else args.role)
        mitra = None
        if args.role == "mitra" or args.purpose or args.quota is not None or args.rate is not None:
            if args.role != "mitra" or not args.purpose or args.quota is None:
                raise ValueError("--purpose, --quota and --rate are for mitra keys, and a mitra key needs --purpose and --quota")
            mitra = service.Mitra(tuple(args.purpose), args.quota, args.rate if args.rate is not None else service.PER_DETIK_BAWAAN)
        async with db.transaction() as conn:
            return await service.create(
                conn, name, args.role, args.wilayah, pii=args.pii, expires_at=expires, if_exists=args.if_exists, mitra=mitra
            )

    from app.keys.service import normalise_name

    # Nothing on stdout but on success: `KEY=$(kumkm apikey create ... | tail -1)` then holds a
    # key or nothing, never a line of an error; the reason goes to stderr, the exit is 2.
    try:
        issued = with_database(run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scope = args.wilayah or "nasional"
    name = normalise_name(args.name or args.role)
    if issued.rotated_from is not None:
        print(
            f"rotated: key #{issued.id} is the next key of {name!r} (role={args.role} wilayah={scope}); "
            f"their key #{issued.rotated_from} stopped working, their records stay theirs"
        )
    else:
        bounds = f" purposes={','.join(sorted(set(args.purpose)))} quota={args.quota}/day" if args.role == "mitra" else ""
        print(f"created key #{issued.id} role={args.role} wilayah={scope} name={name}{bounds}")
    print("store it now: it is shown only once")
    print(issued.key)
    return 0


def _key_ref_error(exc) -> int:
    """A reference naming no key (exit 1) or several (exit 2, with the candidates)."""
    print(f"error: {exc}", file=sys.stderr)
    if exc.candidates:
        print(_keys_table(exc.candidates), file=sys.stderr)
    return 2 if exc.ambiguous else 1


def cmd_apikey_revoke(args) -> int:
    async def run():
        from app.keys import service

        async with db.transaction() as conn:
            return await service.revoke(conn, args.ref)

    from app.keys.service import KeyRefError

    try:
        revoked = with_database(run)
    except KeyRefError as exc:
        return _key_ref_error(exc)
    for key_id, name in revoked:
        print(f"revoked key #{key_id} ({name})")
    return 0


def cmd_apikey_rotate(args) -> int:
    async def run():
        from app.keys import service

        async with db.transaction() as conn:
            return await service.rotate(conn, args.ref, int(args.grace_hours * 3600))

    from app.keys.service import KeyRefError

    try:
        rotated = with_database(run)
    except KeyRefError as exc:
        return _key_ref_error(exc)
    if rotated is None:
        print(f"no active key matches {args.ref!r}", file=sys.stderr)
        return 1
    key_id, key = rotated
    print(f"new key #{key_id}; the old key stops working in {args.grace_hours:g} h")
    print("store it now: it is shown only once")
    print(key)
    return 0


def cmd_apikey_list(args) -> int:
    async def run():
        from app.keys import service

        return await service.list_keys()

    print(_keys_table(with_database(run)))
    return 0


def _mitra(k: dict) -> str:
    """A partner's purposes and bounds (docs/mitra.md), e.g. `kur,bantuan 5000/day 10/s`."""
    if not k.get("mitra_tujuan"):
        return "-"
    return f"{','.join(k['mitra_tujuan'])} {k['mitra_kuota_harian']}/day {k['mitra_per_detik']}/s"


def _keys_table(keys: list[dict]) -> str:
    from app.core.console import table
    from app.keys.service import key_status

    def when(t) -> str:
        from app.core.timefmt import utc_text

        return utc_text(t)[:19] + "Z" if t is not None else "-"

    return table(
        ["id", "prefix", "role", "wilayah", "name", "pii", "expires", "status", "last used", "mitra"],
        [
            [
                f"#{k['id']}",
                f"{k['key_prefix']}…",
                k["role"],
                k["kode_wilayah"] or "nasional",
                k["name"],
                "yes" if k["pii"] else "no",
                when(k["expires_at"]),
                key_status(k),
                when(k["last_used_at"]),
                _mitra(k),
            ]
            for k in keys
        ],
    )
