"""scripts/teams_app_package.py: the Teams app package (manifest v1.22 + both icons) from the settings."""
from __future__ import annotations

import json
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import teams_app_package as package  # noqa: E402

APP_ID = "00000000-1111-2222-3333-444444444444"


def png_pixels(data: bytes):
    """(width, height, rows of RGBA tuples) of an unfiltered RGBA PNG as the script writes it."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6)
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = [[tuple(raw[y * stride + 1 + 4 * x: y * stride + 5 + 4 * x]) for x in range(width)] for y in range(height)]
    return width, height, rows


def test_the_package_holds_the_manifest_and_both_icons(tmp_path: Path):
    out = package.write_package(tmp_path / "app.zip", {"TEAMS_APP_ID": APP_ID, "TEAMS_VALID_DOMAIN": "portal.example"})
    with zipfile.ZipFile(out) as zipped:
        assert sorted(zipped.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zipped.read("manifest.json"))
        color, outline = png_pixels(zipped.read("color.png")), png_pixels(zipped.read("outline.png"))
    assert manifest["$schema"].endswith("/teams/v1.22/MicrosoftTeams.schema.json")
    assert manifest["manifestVersion"] == "1.22" and manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["bots"][0]["scopes"] == ["personal", "team", "groupChat"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert len(manifest["developer"]["name"]) <= 32
    assert all(manifest["developer"][k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert manifest["validDomains"] == ["portal.example"]
    assert color[:2] == (192, 192) and outline[:2] == (32, 32)
    # the outline icon: white and transparent pixels only
    assert {pixel for row in outline[2] for pixel in row} == {(255, 255, 255, 255), (0, 0, 0, 0)}


def test_the_app_id_must_be_a_guid(tmp_path: Path):
    with pytest.raises(SystemExit):
        package.write_package(tmp_path / "app.zip", {"TEAMS_APP_ID": "not-a-guid"})
    with pytest.raises(SystemExit):
        package.write_package(tmp_path / "app.zip", {"TEAMS_APP_ID": APP_ID, "TEAMS_PRIVACY_URL": "http://x"})
