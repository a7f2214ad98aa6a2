"""`python -m restart` is the same as `splent-restart`."""
from restart.cli import main_entry

main_entry()
