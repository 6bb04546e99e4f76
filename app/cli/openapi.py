"""`kumkm openapi`: the OpenAPI document the app serves, written or checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.common import ROOT


def register(sub) -> None:
    s = sub.add_parser("openapi", help="write the OpenAPI document the app serves")
    s.add_argument("--out", default=str(ROOT / "openapi" / "openapi.json"))
    s.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    s.set_defaults(func=cmd_openapi)


def cmd_openapi(args) -> int:
    from app.main import create_app

    doc = json.dumps(create_app().openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.check:
        current = Path(args.out).read_text() if Path(args.out).exists() else ""
        if current != doc:
            print(f"{args.out} is out of date: run `kumkm openapi`", file=sys.stderr)
            return 1
        return 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(doc)
    print(f"wrote {args.out}")
    return 0
