"""Connection tracking utility.

Every place that takes a database connection out of the pool is expected to
call ``track_connection_acquired`` and, before giving it back,
``track_connection_released``.  ``/health/dashboard`` shows the difference per
context as "Active Now".
"""

import threading
import time

_lock = threading.Lock()
_acquired = {}
_released = {}
_total_seconds = {}


def track_connection_acquired(context):
    """Record that ``context`` took a connection; returns (context, start_time)."""
    start_time = time.monotonic()
    with _lock:
        _acquired[context] = _acquired.get(context, 0) + 1
    return context, start_time


def track_connection_released(context, start_time):
    """Record that the connection taken by ``context`` at ``start_time`` was given back."""
    held = time.monotonic() - start_time
    with _lock:
        _released[context] = _released.get(context, 0) + 1
        _total_seconds[context] = _total_seconds.get(context, 0.0) + held


def get_connection_stats():
    """Snapshot of the counters: per context and in total."""
    with _lock:
        contexts = sorted(set(_acquired) | set(_released))
        per_context = {}
        for ctx in contexts:
            acquired = _acquired.get(ctx, 0)
            released = _released.get(ctx, 0)
            per_context[ctx] = {
                "acquired": acquired,
                "released": released,
                "active_now": acquired - released,
                "seconds_held": round(_total_seconds.get(ctx, 0.0), 6),
            }
        total_acquired = sum(_acquired.values())
        total_released = sum(_released.values())
    return {
        "contexts": per_context,
        "total_acquired": total_acquired,
        "total_released": total_released,
        "active_now_total": total_acquired - total_released,
    }


def reset_connection_stats():
    """Forget every counter (used by tests)."""
    with _lock:
        _acquired.clear()
        _released.clear()
        _total_seconds.clear()
