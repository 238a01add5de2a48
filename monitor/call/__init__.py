"""One call in progress: its ordered, redacted event stream, the host it needs, alert latency."""
