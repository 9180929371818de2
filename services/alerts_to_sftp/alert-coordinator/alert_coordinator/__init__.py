"""alert-coordinator: fetch a job's alerts, stage each, track it in MySQL and queue a pointer to it."""
