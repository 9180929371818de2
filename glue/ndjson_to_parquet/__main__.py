"""``python -m ndjson_to_parquet``: see cli.py."""

import sys

from .cli import main

sys.exit(main())
