"""The `sata` command-line tool: one subcommand per module in this package."""
