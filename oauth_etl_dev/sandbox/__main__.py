"""`python -m oauth_etl_dev.sandbox ...`: run the sandbox command."""

from oauth_etl_dev.sandbox.cli import sandbox_command

if __name__ == "__main__":
    sandbox_command(prog_name="oauth_etl_dev.sandbox")
