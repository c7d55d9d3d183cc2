"""`python -m oauth_etl.sandbox ...`: run the sandbox command."""

from oauth_etl.sandbox.cli import sandbox_command

if __name__ == "__main__":
    sandbox_command(prog_name="oauth_etl.sandbox")
