"""The settings QR code ODK Collect (and KoboCollect) scans to set up a project: the settings
as JSON, compressed with zlib and base64-encoded, in a QR code (ODK Collect's "Configure with
QR code"). The server URL carries the enumerator's key, so the code is as secret as the key:
hand it to its enumerator only, and revoke the key when a phone is lost."""

from __future__ import annotations

import base64
import json
import zlib


def server_url(base_url: str, key: str) -> str:
    """The URL a phone is configured with; formList, the form and submission live below it."""
    return f"{base_url.rstrip('/')}/openrosa/{key}"


def settings_payload(url: str, project: str) -> dict:
    return {
        "general": {
            "server_url": url,
            # The key in the URL is the whole credential: no user name or password.
            "username": "",
            "password": "",
            # The form and its wilayah list follow the server (a new wilayah list or form
            # version reaches the phone without the enumerator doing anything).
            "form_update_mode": "match_exactly",
            "periodic_form_updates_check": "every_one_hour",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project, "icon": "K", "color": "#1b5e20"},
    }


def encode(payload: dict) -> str:
    return base64.b64encode(zlib.compress(json.dumps(payload, separators=(",", ":")).encode())).decode()


def decode(text: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(text)))


def make(text: str):
    import segno

    return segno.make(text, error="l", micro=False)
