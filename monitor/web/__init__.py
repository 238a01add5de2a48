"""The network front: ingest WebSockets, the /live feed, the HTTP API and the dashboard's files."""
