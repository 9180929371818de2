"""finalizer: close each alerts job once all its alerts are on the SFTP server; report what is stuck."""
