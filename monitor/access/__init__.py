"""Who may do what: ingest credentials, secret and password hashes, dashboard/API users."""
