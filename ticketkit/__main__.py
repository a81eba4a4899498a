"""`python -m ticketkit …` is the `ticketkit` command."""

from .cli import main

main()
