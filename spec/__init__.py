"""Named spec sources and overlays, shipped inside the package as dynclient._spec (see dynclient/sources.py)."""
