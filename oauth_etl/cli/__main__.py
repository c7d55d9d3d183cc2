"""`python -m oauth_etl.cli`."""

from oauth_etl.cli import main

main()
