"""Writes the Teams app package to upload in Teams (Apps > Manage your apps > Upload an app) or in the Teams admin
centre: a zip of manifest.json (app manifest schema v1.22) and its two icons, made here without any image library.

    .venv-app/bin/python scripts/teams_app_package.py [--out var/teams/portal-assistant.zip]

Settings (environment): TEAMS_APP_ID (the Azure Bot's Microsoft App ID, required: the app id and the bot id),
TEAMS_APP_VERSION (default 1.0.0), TEAMS_DEVELOPER_NAME, TEAMS_DEVELOPER_URL, TEAMS_PRIVACY_URL, TEAMS_TERMS_URL
(https pages of the publisher), TEAMS_VALID_DOMAIN (the portal's host, where the sign-in card's linking page is).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_VERSION = "1.22"
SCHEMA = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ACCENT = (0xCC, 0x00, 0x00)  # the widget's colour
Pixel = Tuple[int, int, int, int]


def png(size: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An RGBA PNG of size x size whose pixels `pixel(x, y)` gives."""
    raw = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _in_printer(u: float, v: float) -> bool:
    """A printer drawn in the unit square: paper on top, the body, the output slot."""
    paper = 0.3 <= u <= 0.7 and 0.15 <= v <= 0.4
    body = 0.15 <= u <= 0.85 and 0.4 <= v <= 0.75
    slot = 0.3 <= u <= 0.7 and 0.6 <= v <= 0.66
    return (paper or body) and not slot


def color_icon() -> bytes:
    """192 x 192, full colour: a white printer on the accent colour."""
    return png(192, lambda x, y: (255, 255, 255, 255) if _in_printer(x / 192, y / 192) else (*ACCENT, 255))


def outline_icon() -> bytes:
    """32 x 32, white on transparent (Teams' rule for the outline icon)."""
    return png(32, lambda x, y: (255, 255, 255, 255) if _in_printer(x / 32, y / 32) else (0, 0, 0, 0))


def manifest(env: Dict[str, str]) -> Dict[str, Any]:
    app_id = env.get("TEAMS_APP_ID", "")
    if not GUID.match(app_id):
        raise SystemExit("TEAMS_APP_ID must be the Azure Bot's Microsoft App ID (a GUID)")
    urls = {key: env.get(name, default) for key, name, default in (
        ("websiteUrl", "TEAMS_DEVELOPER_URL", "https://www.example.com/"),
        ("privacyUrl", "TEAMS_PRIVACY_URL", "https://www.example.com/privacy"),
        ("termsOfUseUrl", "TEAMS_TERMS_URL", "https://www.example.com/terms"))}
    for name, url in urls.items():
        if not url.startswith("https://"):
            raise SystemExit(f"{name} must be an https URL: {url}")
    scopes = ["personal", "team", "groupChat"]
    commands = [{"title": "help", "description": "What the assistant can do / Ce que l'assistant sait faire"},
                {"title": "report a fault", "description": "Report a fault on a device / Signaler une panne"},
                {"title": "meter readings", "description": "Enter meter readings / Saisir des relevés"}]
    body: Dict[str, Any] = {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": env.get("TEAMS_APP_VERSION", "1.0.0"),
        "id": app_id,
        "developer": {"name": env.get("TEAMS_DEVELOPER_NAME", "Managed print services")[:32], **urls},
        "name": {"short": "Print assistant", "full": "Managed print services assistant"},
        "description": {
            "short": "Report faults, enter meter readings, order supplies, follow cases.",
            "full": "The self-service assistant of your managed print services, in French and English: report a "
                    "fault with the knowledge articles that may solve it, enter meter readings, order supplies and "
                    "follow your cases, with your portal account (linked once from a portal page).",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{"botId": app_id, "scopes": scopes, "supportsFiles": False, "isNotificationOnly": False,
                  "commandLists": [{"scopes": ["personal"], "commands": commands}]}],
        "permissions": ["identity"],
        "validDomains": [domain for domain in [env.get("TEAMS_VALID_DOMAIN", "")] if domain],
    }
    return body


def write_package(out: Path, env: Dict[str, str]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest(env), indent=2, ensure_ascii=False))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "teams" / "portal-assistant.zip")
    args = parser.parse_args(argv)
    print(write_package(args.out, dict(os.environ)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
