"""What the provider-neutral layer needs to say about a provider: the names of the settings
a person fixes, its facts (the refresh token's lifetime, its correlation header) and its
advice. The project builds one (`oauth_etl.app.provider`) and passes it down; the neutral
default names no provider and no variable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    client_id_setting: str = "the client id setting"
    client_secret_setting: str = "the client secret setting"  # noqa: S105 (a name, not a secret)
    identity_url_setting: str = "the token endpoint URL setting"
    # Seconds an unused refresh token lives; None: the provider does not say.
    refresh_token_lifetime_seconds: float | None = None
    lock_prefix: str = "oauth-token"  # the Key Vault store's lease blob: PREFIX-<digest>.lock
    correlation_header: str | None = None  # a response header its support asks for
    scope_advice: str = "ask only for scopes enabled for the app"
    app_settings: str = "the app's settings at the provider"  # where redirect URIs are registered
    opt_in_advice: str = ""  # when the authorize screen refuses a scope

    def refresh_lifetime_text(self) -> str:
        """'expired after N days unused, ' or '' when the lifetime is not known."""
        seconds = self.refresh_token_lifetime_seconds
        return f"expired after {seconds / 86400:g} days unused, " if seconds else ""


NEUTRAL = Provider()
