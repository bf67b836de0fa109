"""Waits until backend, action server and Rasa answer, then says where to chat (run by `make run`).

Also imported by the end-to-end tests, which start the same Procfile on free ports.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import urllib.error
import urllib.request


def service_urls(env: dict[str, str]) -> dict[str, str]:
    return {
        "backend": f"http://localhost:{env['BACKEND_PORT']}/health",
        "action server": f"http://localhost:{env['ACTION_PORT']}/health",
        # /status answers only once the model is loaded
        "rasa": f"http://localhost:{env['RASA_PORT']}/status?token={env['RASA_API_TOKEN']}",
    }


def wait_until_ready(env: dict[str, str], timeout: float = 300.0, alive=lambda: True) -> None:
    """Returns once every service answers; TimeoutError after `timeout` s or as soon as `alive()` is false."""
    wait_for_urls(service_urls(env), timeout, alive)


def wait_for_urls(urls: dict[str, str], timeout: float = 300.0, alive=lambda: True) -> None:
    """Returns once every URL answers 200 (names -> URLs); TimeoutError after `timeout` s or once `alive()` is
    false."""
    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending:
        if not alive():
            raise TimeoutError(f"a service stopped before being ready: {', '.join(pending)}")
        for name, url in list(pending.items()):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        del pending[name]
            except (urllib.error.URLError, OSError):
                pass
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
        if pending:
            time.sleep(1)


def main() -> None:
    env = dict(os.environ)
    try:
        wait_until_ready(env)
    except TimeoutError as exc:
        print(f"error: {exc}; see the logs above", flush=True)
        sys.exit(1)
    password = env.get("DEMO_PASSWORD", "DemoPortal-2026")
    print(
        "\n"
        f"  Ready. Open http://localhost:{env['BACKEND_PORT']}/chat/ and log in as\n"
        f"    sntestportaldemo@outlook.com  (Administrateur, FR)  password: {password}\n"
        f"    sntestdemoportaldm@yopmail.com (User, EN)           password: {password}\n"
        "  Press Ctrl+C to stop every service.\n",
        flush=True,
    )
    signal.pause()  # stay up: honcho stops all services when any process exits


if __name__ == "__main__":
    main()
