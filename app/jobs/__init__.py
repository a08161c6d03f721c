"""Background jobs stored in the database: claimed with a lease, retried, with progress."""
