"""``python -m ndjson_to_parquet_converter``: see cli.py."""

import sys

from .cli import main

sys.exit(main())
