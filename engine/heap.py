"""Python's cyclic garbage collector, once the program has started (`opsconsole`, `--headless`).

Start-up leaves ~130,000 objects that live as long as the process: Textual's widgets and styles,
the config schema's validators, the engine's components. The collector's full pass walks every one
of them whenever enough new long-lived objects pile up; on the demo config that was a 75-80 ms pass
about every 30 s (0.23% of a core, and a pause the UI thread and the engine loop both wait for,
which a confirmed keypress can land in). `gc.freeze()` moves them to a generation the collector
never walks, so a full pass sees only what came later: 9 ms (docs/performance.md, "Fourth pass").

Frozen objects are never collected, so this is for a program's own start-up, not a library's:
the entry points ask for it (console/cli.py), the engine does it when it is running, and an
engine embedded in a test process never freezes the test runner's heap.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect what start-up left as garbage, then freeze the rest; how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
