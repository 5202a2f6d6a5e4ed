"""The layers hold: `make test` runs lint-imports on the contracts in pyproject.toml, and an import across
a layer fails it (docs/architecture.md, "The layers")."""

import shutil

import pytest

from ..conftest import PROJECT
from .test_docs import run_tests


@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """The package and its contracts in a directory of their own, the current one while the test runs."""
    copy = tmp_path / "project"
    shutil.copytree(PROJECT / "rentals", copy / "rentals", ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(PROJECT / "pyproject.toml", copy / "pyproject.toml")
    monkeypatch.chdir(copy)
    return copy


def test_the_layers_hold_today(code_copy):
    assert run_tests.layers_held() is True


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("admin/accounts.py", "from ..provider.errors import ProviderError"),  # an entry point past the services
        ("webhooks.py", "from .simulator import control"),
        ("services/budgets.py", "from ..tasks import check_budgets"),  # the services-tasks circle
        ("models/forwarding.py", "from ..chat import post_plain"),  # a model that posts to chat
        ("models/accounts.py", "from ..services import account_check_balance"),
        ("templatetags/rentdesk.py", "from ..admin.common import what_happened"),
        ("wording/pages.py", "from ..services import rental_rent"),  # words that would act
        ("wording/notices.py", "from ..notice_sending import notify"),
        ("provider/client.py", "from ..models import ProviderAccount"),  # a leaf that reaches up
        ("permissions.py", "from .models import Rental"),  # below the models: every layer checks them
    ],
)
def test_an_import_across_a_layer_fails_make_test(code_copy, module, forbidden):
    path = code_copy / "rentals" / module
    path.write_text(path.read_text() + f"\n\ndef _crossing() -> None:\n    {forbidden}  # noqa\n")
    assert run_tests.layers_held() is False
