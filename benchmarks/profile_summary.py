"""Where a service's CPU goes, from the py-spy profiles `conversations.py --py-spy` writes.

    python3 benchmarks/profile_summary.py var/profiles/rasa-*.txt [--top 40] [--callers FUNCTION]

Reads py-spy's collapsed stacks ("frame;frame;... count"), leaves out the samples of a process waiting for work
(py-spy's --nonblocking mode cannot tell them apart: their innermost frame is the event loop or a queue/lock
wait), and prints, in % of the remaining (busy) samples, the functions with the most time spent in them or below
them (inclusive), then in them alone (self). `--callers f` shows the call paths that lead to functions whose
name contains `f`. Standard library only: runs with any Python 3.
"""
from __future__ import annotations

import argparse
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Iterator, List, Tuple

# Innermost frames of a process that is waiting, not working (event loops, worker threads idling).
IDLE_LEAVES = ("serve (sanic/server/runners.py)", "run_forever (asyncio/base_events.py)", "select (selectors.py)",
               "_run_once (asyncio/base_events.py)", "wait (threading.py)", "get (queue.py)",
               "_worker (concurrent/futures/thread.py)", "run (uvicorn/server.py)",
               "poll (multiprocessing/popen_fork.py)")
LINE_NUMBER = re.compile(r":\d+\)$")
QUALIFIER = re.compile(r"^(?:[\w<>]+\.)+(?=\w+ \()")  # Python 3.11 frames say "Queue.get (queue.py)"


def samples(paths: List[Path]) -> Iterator[Tuple[List[str], int]]:
    """(frames outermost first, without line numbers, sample count) of every busy stack."""
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
            if QUALIFIER.sub("", frames[-1]).startswith(IDLE_LEAVES):
                continue
            yield frames, int(count)


def main() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` is fine
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callers", help="show the call paths leading to functions containing this text")
    args = parser.parse_args()
    inclusive, own, callers = Counter(), Counter(), Counter()
    total = 0
    for frames, count in samples(args.profiles):
        total += count
        for frame in set(frames):  # a recursive function counts once per sample
            inclusive[frame] += count
        own[frames[-1]] += count
        if args.callers:
            for i, frame in enumerate(frames):
                if args.callers in frame:
                    callers[" <- ".join(reversed(frames[max(0, i - 4):i + 1]))] += count
                    break
    if not total:
        raise SystemExit("no busy samples in these files")
    print(f"{total} busy samples")
    sections = [("inclusive", inclusive), ("self", own)] + ([("callers", callers)] if args.callers else [])
    for title, counter in sections:
        print(f"\n{title}:")
        for name, count in counter.most_common(args.top):
            print(f"{100 * count / total:6.1f} %  {name[:220]}")


if __name__ == "__main__":
    main()
