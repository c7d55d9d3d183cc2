"""Where the time goes: pyinstrument in every thread, frames grouped by what they do; and
where the CPU goes: cProfile on each thread's CPU clock (`cpu_profile_all_threads`).

pyinstrument samples only the thread that started it, and our pipeline works in
three kinds of thread (the consumer, the page fetchers, the blob-landing worker),
so each thread that starts while profiling gets its own profiler; the sessions
are classified and summed. Time a thread spends blocked on a lock or queue is
"waiting" and left out of the percentages.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyinstrument import Profiler
from pyinstrument.session import Session

INTERVAL = 0.001

# (category, test on a frame's function name and file path), checked leaf to root.
RULES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    (
        "waiting",
        lambda f, p: f.rsplit(".", 1)[-1] in ("acquire", "wait", "sleep", "get") and _lib(p),
    ),
    ("JSON (orjson/json)", lambda f, p: f in ("loads", "dumps") or "/json/" in p),
    ("gzip (ISA-L/zlib)", lambda f, p: "compress" in f or "flush" in f or "gzip" in p),
    ("hashing (sha256/md5)", lambda f, p: f in ("update", "hexdigest", "md5", "sha256")),
    ("upload (azure SDK)", lambda f, p: "/azure/" in p or "urllib3" in p or "requests" in p),
    ("HTTP (httpx/h11)", lambda f, p: any(x in p for x in ("/httpx/", "/httpcore/", "/h11/"))),
    ("cursor dates", lambda f, p: p.endswith("dates.py") or "_stamp" in f),
    ("paging/parse", lambda f, p: p.endswith(("envelope.py", "client.py"))),
    (
        "extraction bookkeeping (ids, cursor, window)",
        lambda f, p: p.endswith(("extraction.py", "paging.py", "window.py", "cursor.py")),
    ),
    ("writer loop", lambda f, p: p.endswith("writer.py")),
)


def _lib(path: str) -> bool:
    return path in ("<built-in>", "") or any(
        part in path for part in ("threading.py", "queue.py", "concurrent/futures")
    )


def classify(stack: list[tuple[str, str]]) -> str:
    """`stack` is leaf first: (function, file path)."""
    for function, path in stack:
        for name, test in RULES:
            if test(function, path):
                return name
    return "other"


def _walk(
    frame: Any, stack: list[tuple[str, str]], out: Counter[str], leaves: Counter[str]
) -> None:
    children = list(frame.children)
    here = [(str(frame.function or ""), str(frame.file_path or "")), *stack]
    own = frame.time - sum(child.time for child in children)
    if own > 0:
        category = classify(here)
        out[category] += own
        if category in ("other", "HTTP (httpx/h11)"):
            # pyinstrument's synthetic "[self]" frames carry no name: report the caller
            named = [(f, p) for f, p in here if f and not f.startswith("[")]
            function, path = named[0] if named else here[0]
            leaves[f"{category}: {function} ({path.rsplit('/', 1)[-1]})"] += own
    for child in children:
        _walk(child, here, out, leaves)


def summarize(sessions: list[Session]) -> tuple[Counter[str], Counter[str]]:
    """Seconds per category, and the busiest leaf functions of 'other' and 'HTTP'."""
    totals: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for session in sessions:
        root = session.root_frame(trim_stem=False)
        if root is not None:
            _walk(root, [], totals, leaves)
    return totals, leaves


@contextmanager
def profile_all_threads() -> Iterator[list[Session]]:
    """Profile the calling thread and every thread started inside the block."""
    sessions: list[Session] = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        profiler = Profiler(interval=INTERVAL, async_mode="disabled")
        profiler.start()
        try:
            original(thread)
        finally:
            session = profiler.stop()
            with lock:
                sessions.append(session)

    main = Profiler(interval=INTERVAL, async_mode="disabled")
    threading.Thread.run = run  # type: ignore[method-assign,assignment]
    main.start()
    try:
        yield sessions
    finally:
        sessions.append(main.stop())
        threading.Thread.run = original  # type: ignore[method-assign]


def shares(totals: Counter[str]) -> list[tuple[str, float, float]]:
    """(category, seconds, % of busy time), biggest first; waiting excluded from %."""
    busy = sum(v for k, v in totals.items() if k != "waiting") or 1.0
    rows: list[tuple[str, float, float]] = [
        (k, float(v), 100.0 * v / busy) for k, v in totals.most_common() if k != "waiting"
    ]
    return rows


# --- CPU: cProfile on each thread's CPU clock -----------------------------------------------
# Wall-clock samples count a thread waiting for the GIL as busy in whatever it waits in;
# thread_time counts only the CPU a thread spent, so the shares add up to the process's.

# A built-in's own time goes to what its caller does (a socket read is HTTP when httpx
# calls it, upload when urllib3 does); these name the built-ins that say it themselves.
BUILTIN_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("JSON (orjson/json)", lambda n: "orjson" in n or "json" in n),
    ("gzip (ISA-L/zlib)", lambda n: "compress" in n or "isal" in n or "zlib" in n),
    ("hashing (sha256/md5)", lambda n: "_hashlib" in n or "md5" in n or "sha256" in n),
)

Func = tuple[str, int, str]


def _category_of(func: Func) -> str | None:
    path, _, name = func
    if path == "~":
        for category, test in BUILTIN_RULES:
            if test(name):
                return category
        return None  # decided by the caller
    for category, test in RULES:
        if category != "waiting" and test(name, path):
            return category
    return "other"


@contextmanager
def cpu_profile_all_threads() -> Iterator[list[cProfile.Profile]]:
    """cProfile, timed by each thread's CPU clock, in the calling thread and every thread
    started inside the block."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original(thread)
        finally:
            profile.disable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.Thread.run = run  # type: ignore[method-assign,assignment]
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.Thread.run = original  # type: ignore[method-assign]


def cpu_summary(profiles: list[cProfile.Profile]) -> tuple[Counter[str], Counter[str]]:
    """CPU-seconds per category (built-ins by their own name or their caller's category),
    and the functions with the most CPU of their own."""
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    table: dict[Func, Any] = stats.stats  # type: ignore[attr-defined]
    totals: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for func, (_, _, own, _, callers) in table.items():
        leaves[f"{func[2]} ({func[0].rsplit('/', 1)[-1]})"] += own
        category = _category_of(func)
        if category is not None:
            totals[category] += own
            continue
        # A built-in with no category of its own: split its time by its callers'.
        by_caller = {caller: figures[2] for caller, figures in callers.items()}
        spread = sum(by_caller.values()) or 1.0
        for caller, seconds in by_caller.items():
            totals[_category_of(caller) or "other"] += own * seconds / spread
        if not by_caller:
            totals["other"] += own
    return totals, leaves
