"""The `callwarden` command line: the entry point (main.py) and one module per subcommand."""
