"""`python -m oauth_etl.webhooks serve|status`: the same group as `oauth-etl webhooks`."""

from oauth_etl.webhooks.cli import webhooks

webhooks(prog_name="oauth-etl webhooks")
