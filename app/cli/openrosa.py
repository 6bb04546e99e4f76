"""`kumkm openrosa qr|xlsform`: ODK Collect / KoboCollect / Enketo (app.openrosa)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import with_database, write_private


def register(sub) -> None:
    o = sub.add_parser("openrosa", help="ODK Collect / KoboCollect / Enketo").add_subparsers(dest="sub", required=True)
    s = o.add_parser("qr", help="an enumerator key's server URL and ODK Collect's settings QR code (the key is read from standard input)")
    s.add_argument("--url", required=True, help="the service's public base URL, e.g. https://kumkm.example.go.id")
    s.add_argument("--key", help="the key (prefer standard input: a key on the command line stays in the shell history)")
    s.add_argument("--out", help="write the QR code to this .png or .svg file (default: print it here)")
    s.add_argument("--scale", type=int, default=8, help="pixels per module in a PNG")
    s.add_argument("--project", help="project name shown on the phone")
    s.set_defaults(func=cmd_openrosa_qr)
    s = o.add_parser("xlsform", help="rebuild app/openrosa/form/pl-kumkm.xlsx (and the follow-up form's workbook) from their CSV sheets")
    s.add_argument("--out", help="write here instead")
    s.set_defaults(func=cmd_openrosa_xlsform)


def cmd_openrosa_qr(args) -> int:
    """The server URL of an enumerator key and ODK Collect's settings QR code for it."""
    from app.openrosa import qr

    key = args.key or sys.stdin.readline().strip()
    if not key:
        print("error: give the key on standard input (or --key)", file=sys.stderr)
        return 2

    async def run():
        from app.security.authn import authenticate
        from app.security.policy import roles

        principal = await authenticate(key)
        return principal, roles("record.post")

    principal, allowed = with_database(run)
    if principal is None:
        print("error: the key is unknown, revoked or expired", file=sys.stderr)
        return 1
    if principal.role not in allowed:
        print(
            f"error: key #{principal.id} ({principal.name}) has role {principal.role}; OpenRosa takes {', '.join(allowed)} keys",
            file=sys.stderr,
        )
        return 2
    url = qr.server_url(args.url, key)
    project = args.project or f"PL-KUMKM {principal.kode_wilayah or 'nasional'} ({principal.name})"
    code = qr.make(qr.encode(qr.settings_payload(url, project)))
    print(f"key #{principal.id} ({principal.name}), role {principal.role}, wilayah {principal.kode_wilayah or 'nasional'}")
    print(f"server URL (ODK Collect / KoboCollect: Settings > Project > Server; Enketo: formList): {url}")
    if args.out:
        import io

        image = io.BytesIO()
        try:
            code.save(image, kind=Path(args.out).suffix.lower().lstrip(".") or None, scale=args.scale, border=4)
        except ValueError as exc:
            print(f"error: --out {args.out}: {exc} (write a .png or .svg file)", file=sys.stderr)
            return 2
        write_private(Path(args.out), image.getvalue())  # it holds the key
        print(f"settings QR code written to {args.out} (as secret as the key: give it to its enumerator only)")
    else:
        code.terminal(compact=True)
    return 0


def cmd_openrosa_xlsform(args) -> int:
    from app.openrosa import xlsform

    out = Path(args.out) if args.out else xlsform.XLSX
    xlsform.write_xlsx(out)
    form = xlsform.convert(out)
    print(f"wrote {out} from {xlsform.FORM_DIR}/*.csv: form {form.form_id} version {form.version}, XForm {form.hash}")
    if not args.out:  # the follow-up visit form too (docs/pemutakhiran.md)
        xlsform.write_follow_up_xlsx()
        form = xlsform.convert(xlsform.FOLLOW_UP_XLSX)
        where = f"{xlsform.FOLLOW_UP_XLSX} from {xlsform.FOLLOW_UP_DIR}/*.csv"
        print(f"wrote {where}: form {form.form_id} version {form.version}, XForm {form.hash}")
    return 0
