"""The NDJSON-to-Parquet pipeline's shared code (contract: ``docs/ndjson-parquet-contracts.md``).

* ``contract``: versioned messages (manifest, execution input, status update, quarantine reason), S3
  layout and manifest ids;
* ``tracking``: the file-tracking table's vocabulary and its two stores (files sharded, MANIFEST
  records unsharded);
* ``manifests``: claim pending files into manifests and start them, safe under concurrency;
* ``breaker``: the circuit breaker on the metrics table (``python -m ... breaker status|reset``);
* ``config``: the settings and wiring shared by manifest-builder and stream-manifest-creator.

Nothing here touches the network on import.
"""
