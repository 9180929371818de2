"""CSV to API (seed 002): the domain core shared by the pipeline's services.

Row boundaries (:mod:`.scan`), feeds and row validation (:mod:`.feeds`, :mod:`.rows`), the shared rate
limiter (:mod:`.limiter`), row outcomes and file status (:mod:`.outcomes`), the partner API client
(:mod:`.api`), and the three steps of a file: plan (:mod:`.planner`), send a chunk (:mod:`.caller`),
report (:mod:`.report`). Messages between them: :mod:`.contract` and docs/csv_to_api.md.
"""
