"""Schema of the alerts-to-SFTP pipeline (MySQL/MariaDB), applied by ``pipelines_shared.migrations``."""
