"""A local fake of a Splunk HTTP Event Collector over HTTPS, with its own throwaway CA.

In tests: ``with FakeSplunkHec(cert_dir=tmp_path) as hec: ... hec.url, hec.token, hec.ca_pem,
hec.events()``. From a shell: ``cd tools && python -m fake_splunk_hec --cert-dir DIR``.
"""

from fake_splunk_hec.server import FakeSplunkHec, FaultConfig, InvalidBatch, parse_batch

__all__ = ["FakeSplunkHec", "FaultConfig", "InvalidBatch", "parse_batch"]
