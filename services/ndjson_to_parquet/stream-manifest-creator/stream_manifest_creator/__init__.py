"""stream-manifest-creator: build manifests when pending files appear in the tracking table's stream."""
