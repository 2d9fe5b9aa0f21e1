"""Progress bars of long work (optimizer runs, studies, tunings): one rule for when to show
them, ``progress=None`` meaning "only when standard error is a terminal"."""

from __future__ import annotations

import sys
import threading

__all__ = ["progress_bar"]

_LOCK = threading.Lock()


def progress_bar(enabled: bool | None, total: int | None, desc: str, unit: str, **options):
    """A tqdm bar, or None when ``enabled`` is False (or None off a terminal).

    ``options`` go to tqdm (``initial``, ``leave``, ...).
    """
    if enabled is None:
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return None
    from tqdm.auto import tqdm

    with _LOCK:  # tqdm's position bookkeeping is shared between bars of several threads
        return tqdm(total=total, desc=desc, unit=unit, **options)
