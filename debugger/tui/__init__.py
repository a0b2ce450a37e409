"""The `segdebug live` terminal UI."""
