"""Service configuration: embedded defaults, YAML, environment overrides, and its sections."""
