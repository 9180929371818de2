"""csv-log-forwarder: a service of the CSV to API pipeline (docs/csv_to_api.md): its logs to Splunk HEC."""
