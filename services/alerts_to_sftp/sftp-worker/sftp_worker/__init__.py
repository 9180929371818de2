"""sftp-worker: upload each queued alert's staged JSON to the partner's SFTP server, exactly once."""
