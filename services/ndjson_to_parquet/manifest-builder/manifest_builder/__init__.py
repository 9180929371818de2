"""manifest-builder: validate landed NDJSON files, track them, and build manifests of pending files."""
