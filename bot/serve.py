"""`rasa run` for the Procfile (scripts/run_rasa.sh), with what must not be on a command line read here.

The Rasa API token comes from the environment (RASA_API_TOKEN) and CORS from CHAT_ALLOWED_ORIGINS, and both are
added to Rasa's own arguments inside this process, so `ps` shows neither the token nor a `--cors "*"`.
"""
from __future__ import annotations

import os
import sys


def rasa_arguments(argv: list[str], environ: dict[str, str]) -> list[str]:
    token = environ.get("RASA_API_TOKEN", "")
    if not token:
        raise SystemExit("RASA_API_TOKEN is not set (scripts/env.sh generates it)")
    from bot.identity import allowed_origins  # the one reading of the setting (the socket.io adapter uses it too)

    origins = allowed_origins(environ.get("CHAT_ALLOWED_ORIGINS", ""))
    if "*" in origins:
        raise SystemExit("CHAT_ALLOWED_ORIGINS must list the portal origins, not '*'")
    arguments = ["rasa", "run", *argv, "--auth-token", token]
    if origins:
        arguments += ["--cors", *origins]
    return arguments


def main() -> None:
    sys.argv = rasa_arguments(sys.argv[1:], dict(os.environ))
    os.environ.pop("RASA_API_TOKEN", None)  # Rasa has it now; the action server and others never need it here
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
