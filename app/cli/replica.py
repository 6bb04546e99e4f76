"""`kumkm replica create|promote|rejoin|status|stop`: local hot standbys of the embedded
primary (app.infra.standby; docs/replicas.md)."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    r = sub.add_parser("replica", help="local hot standbys of the embedded primary (docs/replicas.md)").add_subparsers(
        dest="sub", required=True
    )
    s = r.add_parser("create", help="make a hot standby of the embedded primary with pg_basebackup and start it")
    s.add_argument("--data-dir", required=True, help="the standby's data directory (empty or absent)")
    s.add_argument("--synchronous", action="store_true", help="the primary acknowledges a commit only once this standby has it")
    s.add_argument("--port", type=int, default=5433, help="the port of its unix socket (default 5433)")
    s.add_argument("--primary", help="the primary's data directory (default KUMKM_DATA_DIR/pgdata)")
    s.set_defaults(func=cmd_replica_create)
    s = r.add_parser(
        "promote",
        help="make the standby in DIR the primary (after the primary is lost); the old "
        "primary is fenced: read-only for good, its sessions ended",
    )
    s.add_argument("--data-dir", required=True)
    s.set_defaults(func=cmd_replica_promote)
    s = r.add_parser(
        "rejoin",
        help="make an old (fenced or stopped) primary a standby of the new primary with pg_rewind; also the second half of a fail-back",
    )
    s.add_argument("--data-dir", required=True, help="the old primary's data directory")
    s.add_argument("--primary", required=True, help="the new primary's data directory")
    s.add_argument("--synchronous", action="store_true", help="the new primary acknowledges a commit only once this standby has it")
    s.add_argument("--port", type=int, help="the port of its unix socket (default: the one it had)")
    s.set_defaults(func=cmd_replica_rejoin)
    s = r.add_parser(
        "status",
        help="role (primary, standby, FENCED), timeline and lag of every server known "
        "here; exit 0: one primary takes writes, 3: none, 4: two",
    )
    s.add_argument("--data-dir", action="append", help="a standby's data directory (repeatable; the standbys made here are found anyway)")
    s.add_argument("--primary", help="the primary's data directory (default KUMKM_DATA_DIR/pgdata)")
    s.set_defaults(func=cmd_replica_status)
    s = r.add_parser("stop", help="stop the server in DIR (fast shutdown)")
    s.add_argument("--data-dir", required=True)
    s.set_defaults(func=cmd_replica_stop)


def _primary_pgdata(args) -> Path:
    from app.core.settings import settings

    return Path(args.primary) if getattr(args, "primary", None) else settings.data_dir / "pgdata"


def cmd_replica_create(args) -> int:
    from app.infra import standby

    try:
        made = standby.create(Path(args.data_dir), _primary_pgdata(args), synchronous=args.synchronous, port=args.port)
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    what = "made and started" if made["made"] else "started (it was made before)"
    mode = "synchronous: a commit is acknowledged once this standby has it" if made["synchronous"] else "asynchronous"
    print(f"hot standby {made['name']} in {made['data_dir']} {what}; pid {made['pid']}; {mode}")
    print(f"DATABASE_REPLICA_URL={made['url']}")
    print(f"DATABASE_URL={made['failover_url']}")
    print("  (writes follow whichever of the two is the primary, e.g. after `kumkm replica promote`)")
    return 0


def cmd_replica_promote(args) -> int:
    from app.infra import fencing, standby

    try:
        done = standby.promote(Path(args.data_dir))
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    old = done["old_primary"]
    where = f"host={old.get('host')} port={old.get('port')}"
    if "ended" in old:
        print(
            f"fenced the old primary {old.get('data_directory') or where}: read-only from now on, after a "
            f"restart too; {old['ended']} client session(s) ended"
        )
    elif "error" in old:
        print(
            f"warning: the old primary ({where}) could not be reached to fence it ({old['error']}). When it "
            "comes back under `kumkm serve` or `kumkm db start` it fences itself (it sees this promotion); "
            "a server started any other way must not be started again before `kumkm replica rejoin`",
            file=sys.stderr,
        )
    print(
        f"promoted {done['data_dir']} to primary (timeline {done['timeline']}) in {done['seconds']:.2f} s; "
        "it has no synchronous standby until one is rejoined or created"
    )
    print(f"DATABASE_URL={done['failover_url'] or done['url']}")
    print(
        "  (a service started with the two-host DATABASE_URL of `replica create` follows by itself; "
        "one started with one host, e.g. `kumkm serve` on the old primary's KUMKM_DATA_DIR, must be "
        "restarted with this DATABASE_URL)"
    )
    if old.get("data_directory"):
        print(f"next: {fencing.rejoin_hint(Path(old['data_directory']), {'promoted': done['data_dir']})}")
    return 0


def cmd_replica_rejoin(args) -> int:
    from app.infra import standby

    try:
        done = standby.rejoin(Path(args.data_dir), Path(args.primary), synchronous=args.synchronous, port=args.port)
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mode = "synchronous: a commit is acknowledged once this standby has it" if done["synchronous"] else "asynchronous"
    print(f"pg_rewind: {done['rewind']}")
    print(f"{done['data_dir']} is a hot standby ({done['name']}) of {done['primary']} now; pid {done['pid']}; {mode}")
    print(f"DATABASE_REPLICA_URL={done['url']}")
    print(f"DATABASE_URL={done['failover_url']}")
    return 0


def cmd_replica_status(args) -> int:
    """Every server the registry knows of here: this primary's data directory, the standbys
    made of it, the servers given, and the standbys made of those (after a failover the new
    primary is among them). Exit 0 when exactly one takes writes, 3 when none does, 4 when
    more than one does (two primaries: fence one now), 1 when one could not be asked."""
    from app.infra import fencing, standby

    primary = _primary_pgdata(args).expanduser().resolve()
    dirs = [primary] + [Path(d).expanduser().resolve() for d in args.data_dir or []]
    for d in list(dirs):
        dirs += [k for k in fencing.known(d) if k not in dirs]
    writable, unreachable = [], False
    for d in dirs:
        try:
            s = standby.describe(d)
        except Exception as exc:  # a server that refuses: say so, go on with the others
            print(f"{d}: unreachable ({type(exc).__name__}: {exc})")
            unreachable = True
            continue
        if s["role"] == "not running":
            print(f"not running  {s['data_dir']}" + (f"  ({fencing.describe_fence(d, s['fence'])})" if s.get("fence") is not None else ""))
            continue
        if s["role"] == "fenced":
            print(f"FENCED   {s['data_dir']}  pid {s['pid']}  {s['url']}")
            print(f"  {fencing.describe_fence(d, s['fence'])}")
            continue
        if s["role"] == "primary":
            writable.append(d)
            print(f"primary  {s['data_dir']}  pid {s['pid']}  {s['url']}  (timeline {s['timeline']})")
            for r in s["standbys"]:
                lag = r["replay_lag_seconds"]
                print(
                    f"  streams to {r['application_name']}: {r['state']}, {r['sync_state']}, "
                    f"replay {r['replay_bytes_behind']} bytes behind"
                    + (f", lag {float(lag):.3f} s" if lag is not None else ", lag 0 s (idle)")
                )
        else:
            lag = s["lag_seconds"]
            print(f"standby  {s['data_dir']}  pid {s['pid']}  {s['url']}")
            print(
                f"  receiver {s['receiver']}, replayed {s['replayed']} of {s['received']}, lag "
                + (f"{lag:.3f} s" if lag is not None else "unknown (nothing replayed yet)")
            )
    if len(writable) > 1:
        print(
            f"error: {len(writable)} primaries take writes: {', '.join(map(str, writable))}; fence the old one "
            "now (`kumkm replica stop --data-dir DIR`)",
            file=sys.stderr,
        )
        return 4
    if not writable:
        print("no primary takes writes: promote the synchronous standby (`kumkm replica promote --data-dir DIR`)", file=sys.stderr)
        return 3
    return 1 if unreachable else 0


def cmd_replica_stop(args) -> int:
    from app.infra import embedded

    pgdata = Path(args.data_dir)
    print(f"stopped {pgdata}" if embedded.stop(pgdata) else f"{pgdata} was not running")
    return 0
