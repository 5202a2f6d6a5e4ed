"""Shared fixtures: a real simulator over loopback, accounts on it, and the catalog rows tests use."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from rentals.simulator.server import SimulatorServer, start_in_thread

from .factories import AccountFactory, CountryFactory, OperatorFactory, ServiceFactory

SANDBOX_KEY = "test-key-0123456789abcdef"


class SimulatorControl:
    """Drives the simulator's control plane over HTTP, as a test or a demo would."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.api_url = server.api_url
        self._control = server.base_url + "/_control/"

    def _post(self, command: str, payload: dict[str, Any] | None = None) -> None:
        response = requests.post(self._control + command, json=payload or {}, timeout=5)
        response.raise_for_status()

    def reset(self) -> None:
        self._post("reset")

    def force(self, **spec: Any) -> None:
        self._post("force", spec)

    def set_account(self, api_key: str, **fields: Any) -> None:
        self._post("accounts", {"api_key": api_key, **fields})

    def set_stock(self, **spec: Any) -> None:
        self._post("stock", spec)

    def requests(self, action: str | None = None) -> list[dict[str, Any]]:
        received = requests.get(self._control + "requests", timeout=5).json()
        return [r for r in received if action is None or r.get("action") == action]

    def rents(self) -> list[dict[str, Any]]:
        return requests.get(self._control + "rents", timeout=5).json()


@pytest.fixture(scope="session")
def simulator_server():
    server = start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(simulator_server) -> SimulatorControl:
    control = SimulatorControl(simulator_server)
    control.reset()
    return control


@pytest.fixture
def catalog(db) -> dict[str, Any]:
    ukraine = CountryFactory(provider_id=1, name="Ukraine")
    return {
        "telegram": ServiceFactory(code="tg", name="Telegram"),
        "whatsapp": ServiceFactory(code="wa", name="WhatsApp"),
        "ukraine": ukraine,
        "kyivstar": OperatorFactory(country=ukraine, code="kyivstar", name="Kyivstar"),
        "russia": CountryFactory(provider_id=0, name="Russia"),
    }


@pytest.fixture
def account(db, simulator):
    return AccountFactory(name="Sandbox", api_url=simulator.api_url, api_key=SANDBOX_KEY)


@pytest.fixture
def short_timeouts(settings):
    settings.SMSONLINE_CONNECT_TIMEOUT = 1.0
    settings.SMSONLINE_TIMEOUT = 1.0
