"""python -m bench.fleet [--quick]: run the fleet sizes, write .bench/fleet.json and docs/fleet.md.
FLEET_SIZES overrides the sizes and their simulated hours, e.g. ``1000:168,10000:24``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from bench.fleet.report import write_doc
from bench.fleet.sim import main

DEFAULT = "1000:168,10000:30,100000:26"

if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # hundreds of thousands of rotations: the logs are not read
    spec = os.environ.get("FLEET_SIZES", "200:3" if "--quick" in sys.argv else DEFAULT)
    sizes = {int(n): float(h) for n, _, h in (p.partition(":") for p in spec.split(","))}
    out = Path(".bench/fleet.json")
    out.parent.mkdir(exist_ok=True)
    main(sizes, str(out))
    if "--quick" not in sys.argv:
        write_doc(out, Path("docs/fleet.md"))
