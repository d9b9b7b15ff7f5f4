"""`python -m app.cli` = `postmeter`."""

from app.cli import main

main()
