"""The NDJSON-to-Parquet pipeline's core (contract: ``docs/ndjson_to_parquet.md``).

* ``contract``: versioned messages (manifest, execution input, status update, quarantine reason), S3
  layout and manifest ids;
* ``tracking``: the file-tracking table's vocabulary and its two stores (files sharded, MANIFEST
  records unsharded);
* ``manifests``: the passes that turn pending files into started manifests, safe under concurrency,
  over ``claims`` (claiming files), ``publish`` (write, record, start) and ``policy``;
* ``breaker``: the circuit breaker on the metrics table (``python -m ndjson_to_parquet.breaker``);
* ``config``: the settings and wiring shared by manifest-builder and stream-manifest-creator.

Nothing here touches the network on import.
"""
