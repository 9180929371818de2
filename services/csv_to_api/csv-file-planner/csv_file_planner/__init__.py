"""csv-file-planner: a service of the CSV to API pipeline (docs/csv_to_api.md)."""
