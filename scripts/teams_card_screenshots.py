"""Draws what Teams shows for each kind of bot response, for the README: the Adaptive Cards that
bot/channels/teams_cards.py makes from sample responses of the domain, rendered in Debian's Chromium by the
`adaptivecards` npm renderer (scripts/teams_cards/package.json, installed here with `npm ci` when missing), with
Teams-like styles. Writes results/teams/<kind>.png.

    .venv-app/bin/python scripts/teams_card_screenshots.py
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RENDERER = ROOT / "scripts" / "teams_cards"
OUT = ROOT / "results" / "teams"

# Sample bot messages as the actions send them (texts of domain/core.yml and actions/knowledge.py).
SAMPLES = {
    "device-buttons": ({"text": "Quel appareil est concerné ? Choisissez-le ci-dessous ou écrivez son numéro.",
                        "buttons": [{"title": "WHJ01481 — Copieur 2e étage", "payload": '/inform{"asset_ref":"WHJ01481"}'},
                                    {"title": "77996101 — Accueil", "payload": '/inform{"asset_ref":"77996101"}'},
                                    {"title": "53463252 — Comptabilité", "payload": '/inform{"asset_ref":"53463252"}'}]},
                       "fr"),
    "article": ({"text": "**Odeur de brûlé** (KB0010021)", "custom": {"article": {
        "title": "Odeur de brûlé pendant l'impression", "number": "KB0010021",
        "summary": "Éteignez l'appareil, débranchez-le et aérez la pièce. Une légère odeur peut venir de l'unité de "
                   "fixation neuve ; une odeur forte ou de la fumée demande une intervention.",
        "url": "https://portal.example/kb/KB0010021"}}}, "fr"),
    "confirm": ({"text": "I'm about to open this case:\n• Device: GNM75498 (Accounting)\n• Type: Paper jam › In the "
                         "drawer or tray\n• Description: the copier keeps jamming in tray 2\nShall I submit it? "
                         "(You can also tell me what to change.)",
                 "buttons": [{"title": "Yes, submit", "payload": "/affirm"},
                             {"title": "Change the description", "payload": '/inform{"fault_change":"description"}'},
                             {"title": "Change the type", "payload": '/inform{"fault_change":"type"}'},
                             {"title": "No", "payload": "/deny"}]}, "en"),
}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { font-family: "Segoe UI", system-ui, sans-serif; background: #f5f5f5; margin: 0; padding: 16px; }
.bubble { background: #fff; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.15); width: 440px; padding: 4px; }
.ac-pushButton { background: #fff; border: 1px solid #d1d1d1; border-radius: 4px; padding: 6px 12px; margin: 2px;
  font: 600 14px "Segoe UI", system-ui, sans-serif; color: #242424; }
.ac-pushButton.style-positive { background: #5b5fc7; color: #fff; border-color: #5b5fc7; }
.ac-pushButton.style-destructive { color: #c4314b; }
.ac-actionSet { flex-wrap: wrap !important; row-gap: 6px; }
</style></head><body><div class="bubble" id="card"></div></body></html>"""


def activities() -> dict:
    """The Teams activities of the samples, made in Rasa's environment (where bot/ runs)."""
    code = ("import json, sys\nfrom bot.channels.teams_cards import teams_activities\n"
            "samples = json.load(sys.stdin)\n"
            "print(json.dumps({k: teams_activities(m, lang) for k, (m, lang) in samples.items()}))")
    done = subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", code], cwd=ROOT, check=True,
                          input=json.dumps(SAMPLES), capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    if not (RENDERER / "node_modules" / "adaptivecards").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=RENDERER, check=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Debian chromium is needed (scripts/ensure_chromium.sh)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    rendered = activities()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 520, "height": 800}, device_scale_factor=2)
        for kind, outbound in rendered.items():
            page.set_content(PAGE)
            page.add_script_tag(path=str(RENDERER / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"))
            card = outbound[0]["attachments"][0]["content"]
            page.evaluate("""(card) => {
                const adaptive = new AdaptiveCards.AdaptiveCard();
                adaptive.parse(card);
                document.getElementById('card').appendChild(adaptive.render());
            }""", card)
            page.locator("#card").screenshot(path=str(OUT / f"{kind}.png"))
            print(OUT / f"{kind}.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
