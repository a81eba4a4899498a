"""`python -m gateway.static.vendor`: refresh the vendored browser libraries from node_modules."""

from . import FILES, NODE_MODULES, copy

missing = [source for source in FILES.values() if not (NODE_MODULES / source).is_file()]
if missing:
    raise SystemExit(f"not in node_modules (run `npm ci`): {', '.join(missing)}")
changed = copy()
print(f"vendored: {', '.join(changed)}" if changed else "vendored files are up to date")
