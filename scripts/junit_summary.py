"""Adds up pytest's JUnit reports of every part of `make test` into one closing line."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(paths: list[str]) -> int:
    passed = failed = skipped = 0
    for path in paths:
        for suite in ET.parse(path).getroot().iter("testsuite"):
            tests, skips = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            fails = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            passed += tests - skips - fails
            failed += fails
            skipped += skips
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not paths or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
