"""`kumkm`: run, migrate and administer the registry from a terminal.

One module a command group, each with `register(sub)` (its part of the argparse tree, beside
the commands it runs) and its `cmd_*` functions; what they share is in app.cli.common. A new
command goes into its group's module, or a new module registered below."""

from __future__ import annotations

import argparse

from app.cli import apikey, backup, citus, database, openapi, openrosa, records, registry, replica, serve, sync, targets, wilayah


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kumkm", description="KUMKM registry service")
    sub = p.add_subparsers(dest="command", required=True)
    # in this order in `kumkm --help`
    serve.register(sub)
    database.register(sub)
    replica.register(sub)
    database.register_migrate(sub)
    citus.register(sub)
    wilayah.register(sub)
    apikey.register(sub)
    records.register(sub)
    sync.register(sub)
    targets.register(sub)
    registry.register(sub)
    backup.register(sub)
    openrosa.register(sub)
    openapi.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
