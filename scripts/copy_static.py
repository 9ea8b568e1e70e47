"""Copy the front-end files the pages use from node_modules (installed by
``npm ci`` from package-lock.json) into web/static/vendor, which is served
under /static/vendor and not committed. Run after every ``npm ci``.

    python scripts/copy_static.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "web" / "static" / "vendor"

#: node_modules path -> path under web/static/vendor (the templates link these).
FILES = {
    "@digdir/designsystemet-css/dist/src/index.css": "designsystemet/designsystemet.css",
    # The theme the CSS package ships (package export "./theme").
    "@digdir/designsystemet-css/dist/theme/designsystemet.css": "designsystemet/theme.css",
    "@digdir/designsystemet-css/LICENSE": "designsystemet/LICENSE",
    "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
    "htmx.org/LICENSE": "htmx/LICENSE",
}


def main() -> int:
    missing = [source for source in FILES if not (NODE_MODULES / source).is_file()]
    if missing:
        print("copy_static: missing from node_modules (run `npm ci` first): "
              + ", ".join(missing), file=sys.stderr)
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for source, target in FILES.items():
        destination = VENDOR / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NODE_MODULES / source, destination)
    print(f"copy_static: {len(FILES)} files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
