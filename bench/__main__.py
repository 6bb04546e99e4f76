"""`./dev bench [NAME] [args]`: run one benchmark (default: ingest). Each prints its figures."""

import importlib
import sys

BENCHES = (
    "ingest",
    "statement-cost",
    "verification",
    "capaian",
    "sync",
    "load",
    "capacity",
    "failover",
    "verifikasi-page",
    "xlsx",
    "openrosa",
    "citus",
    "registry",
    "registry-trigger",
    "mitra",
    "kampanye",
    "grafik",
)


def main() -> None:
    args = sys.argv[1:]
    name = args.pop(0) if args and not args[0].startswith("-") else "ingest"
    if name not in BENCHES:
        sys.exit(f"unknown bench {name!r}; choose one of {', '.join(BENCHES)}")
    importlib.import_module(f"bench.{name.replace('-', '_')}").main(args)


if __name__ == "__main__":
    main()
