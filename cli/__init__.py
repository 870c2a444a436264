"""The typer front end of seldb (installed as package `seldb_cli`)."""
