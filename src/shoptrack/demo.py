"""The demo: an account, a key and a WooCommerce integration ready on first start, reused after."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson

from shoptrack.services import Services
from shoptrack.store.accounts import create_account, get_account
from shoptrack.store.integrations import create_integration, list_integrations

__all__ = ["DemoSetup", "prepare_demo"]


@dataclass(frozen=True, slots=True)
class DemoSetup:
    base_url: str
    account_id: str
    public_key: str
    private_key: str
    integration_id: str
    webhook_secret: str

    def describe(self) -> list[str]:
        webhook_url = f"{self.base_url}/webhooks/woocommerce/{self.integration_id}"
        return [
            f"shoptrack demo on {self.base_url}",
            f"  account       {self.account_id}",
            f"  public key    {self.public_key}",
            f"  private key   {self.private_key}",
            f"  WooCommerce   webhook URL {webhook_url}",
            f"                webhook secret {self.webhook_secret}",
            f"  API docs      {self.base_url}/docs",
        ]


def prepare_demo(services: Services, *, base_url: str) -> DemoSetup:
    """Creates the demo account on the first run and remembers it in the data dir."""
    state_file = services.settings.data_dir / "demo.json"
    if state_file.exists():
        state = orjson.loads(state_file.read_bytes())
        with services.database.read() as connection:
            account = get_account(connection, state["account_id"])
            integrations = list_integrations(connection, account.id)
        if integrations:
            return DemoSetup(base_url=base_url, **state)
    now = services.clock.now()
    webhook_secret = secrets.token_urlsafe(24)
    with services.database.write() as connection:
        account, key = create_account(connection, "Demo shop", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform="woocommerce",
            name="Demo WooCommerce store",
            credentials={
                "store_url": "https://shop.example.com",
                "consumer_key": "ck_demo",
                "consumer_secret": "cs_demo",
                "webhook_secret": webhook_secret,
            },
            settings={},
            now=now,
        )
    state = {
        "account_id": account.id,
        "public_key": account.public_key,
        "private_key": key.key,
        "integration_id": integration.id,
        "webhook_secret": webhook_secret,
    }
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_bytes(orjson.dumps(state))
    state_file.chmod(0o600)
    return DemoSetup(base_url=base_url, **state)
