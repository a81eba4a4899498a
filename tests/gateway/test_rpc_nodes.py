"""The gateway over several RPC nodes (GATEWAY_RPC_URLS): the first one down, the second serves its writes;
every node down is a 503 that says so."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.core.config import Settings
from tests.utils.fault_proxy import FaultProxy


@pytest.fixture()
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture()
def nodes(chain):
    with FaultProxy(chain.url, seed=1) as primary, FaultProxy(chain.url, seed=2) as second:
        yield primary, second


@pytest.fixture()
def settings(database_url, chain, operator, nodes):
    primary, second = nodes
    return Settings(
        database_url=database_url,
        rpc_urls=f"{primary.url}, {second.url}",
        chain_id=chain.chain_id,
        operator_key=operator.key.to_0x_hex(),
        key_encryption_secret="test-secret-not-for-production",
        confirmations=0,
        rpc_timeout_seconds=2,
        rpc_retries=3,
        send_wait_seconds=30,
        sender_enabled=False,
    )


def test_the_first_node_down_the_second_serves_a_write(client, nodes, collection, new_fan, issue):
    primary, second = nodes
    fan = new_fan()
    primary.down()
    served = primary.counts["forwarded"]
    [ticket] = issue(fan)["tickets"]
    assert collection.owner_of(ticket["token_id"]) == fan["address"]
    assert second.counts["method:eth_sendRawTransaction"] == 1
    assert primary.counts["forwarded"] == served


def test_every_node_down_is_503_rpc_unavailable(client, nodes, new_fan, issue, gw_event):
    fan = new_fan()
    for node in nodes:
        node.down()
    refused = issue(fan, expect=503)
    assert (
        refused["error"] == "rpc_unavailable" and "retry with the same Idempotency-Key" in refused["detail"]
    )


def test_settings_take_one_url_or_several():
    secret = "s"
    assert Settings(key_encryption_secret=secret, rpc_url="http://a:1").rpc_endpoints == ["http://a:1"]
    several = Settings(key_encryption_secret=secret, rpc_url="http://a:1", rpc_urls="http://b:2,https://c/k")
    assert several.rpc_endpoints == ["http://b:2", "https://c/k"]
    with pytest.raises(ValidationError, match="not an http"):
        Settings(key_encryption_secret=secret, rpc_urls="http://b:2,ftp://c")


def test_readyz_is_ready_while_one_node_answers_and_names_the_others(app, client, nodes):
    from gateway.services import health

    primary, second = nodes
    health._cache.clear()
    assert client.get("/readyz").json()["status"] == "ready"
    primary.down()
    health._cache.clear()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert f"1 of 2 nodes answer, not {primary.url} (ConnectionError)" in ready.text
    second.down()
    health._cache.clear()
    refused = client.get("/readyz")
    assert refused.status_code == 503 and refused.json()["failing"] == ["rpc"]
