"""Pure rules and models: no I/O, no clocks, no database."""
