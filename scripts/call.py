"""Play a phone call with the running assistant (`make run` first) in the terminal: `make call [FROM=+44…]`.

Each turn prints what the assistant says (and speaks it with espeak-ng when installed); type what the caller says,
or keys: a line of digits, `*` and `#` only (e.g. `2`, `480917`, `45300`, `*1`) is typed on the keypad; an empty
line is silence; `q` hangs up. Requests are signed like Twilio's with TWILIO_AUTH_TOKEN (scripts/env.sh makes a
local one in var/ when none is set), so they go through the same checks as a real call.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from twilio_caller import SimulatedCaller, spoken  # noqa: E402

KEYS = re.compile(r"[0-9*#]+")


def auth_token() -> str:
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    path = os.environ.get("TWILIO_AUTH_TOKEN_FILE", "")
    if not token and path and os.path.exists(path):
        token = Path(path).read_text().strip()
    if not token:
        sys.exit("TWILIO_AUTH_TOKEN is not set (run through `make call`, which reads scripts/env.sh)")
    return token


def speak(root, voice: bool) -> None:
    text = spoken(root)
    print(f"\nassistant: {text}")
    if voice and text:
        say = root.find(".//Say")
        lang = "fr" if say is not None and say.attrib.get("language", "").startswith("fr") else "en"
        subprocess.run(["espeak-ng", "-v", lang, text], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def main() -> None:
    caller_number = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else "+442079460002"
    base = os.environ.get("RASA_PUBLIC_URL", "http://localhost:5005").rstrip("/") + "/webhooks/voice/"
    call = SimulatedCaller(base, auth_token(), caller_number)
    voice = shutil.which("espeak-ng") is not None
    print(f"Calling from {caller_number}. Type words, keys (digits, * and #), an empty line for silence, q to hang up.")
    root = call.start()
    speak(root, voice)
    while len(root) == 0 or root[-1].tag not in ("Hangup",):
        if root.find("Dial") is not None:
            print(f"(transferred to {root.find('Dial/Number').text})")
            break
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if line.lower() == "q":
            break
        if not line:
            root = call.send()
        elif KEYS.fullmatch(line):
            root = call.send(digits=line.rstrip("#"))
        else:
            root = call.send(speech=line)
        speak(root, voice)
    print("(call ended)")


if __name__ == "__main__":
    main()
