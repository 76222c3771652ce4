"""The ARM token goes only to ARM_ENDPOINT's exact origin (issue 17 item 4), over real sockets.

Each trick of the probe gets a URL from a response (nextLink, Azure-AsyncOperation, Location) or straight into
the client, and the listeners it could reach count TCP connections: a refused URL gets no connection at all, not
even without the token, and neither the credential nor the pacer is asked.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from pgflex_restore.arm_url import OffArmUrl, _same_for_every_parser, check_arm_url, parse_origin
from pgflex_restore.client import DataProtectionClient
from pgflex_restore.errors import ConfigurationError, DataProtectionError
from pgflex_restore.ids import BackupInstanceId, ContainerAppJobId, VaultId
from pgflex_restore.load_client import LoadClient
from pgflex_restore.settings import Settings
from tests.client.dp_fakes import FakeCredential
from tests.client.listeners import Listener, listening

VERSION = "2026-06-01"
VAULT = VaultId("04cf684a-d41f-4550-9f70-7708a3a2283b", "rg", "vault1")
BI = BackupInstanceId(VAULT.subscription_id, VAULT.resource_group, VAULT.vault_name, "instance1")
JOB = ContainerAppJobId(VAULT.subscription_id, "rg", "loader")
LIST = f"{VAULT.path}/backupInstances"


class Recorder:
    """The client's credential and pacer in one: what was asked of them."""

    def __init__(self) -> None:
        self.credential = FakeCredential()
        self.paced: list[tuple[str, str]] = []

    def pacer(self, method: str, url: str) -> float:
        self.paced.append((method, url))
        return 0.0

    def client(self, endpoint: str, cls: type[DataProtectionClient] = DataProtectionClient) -> DataProtectionClient:
        return cls(endpoint, VERSION, self.credential, timeout=(2.0, 2.0), pacer=self.pacer)


@pytest.fixture
def arm() -> Iterator[Listener]:
    with listening("127.0.0.1") as listener:
        yield listener


@pytest.fixture
def decoy(arm: Listener) -> Iterator[Listener]:
    """Another loopback address on ARM's very port: the host the old check counted as ARM."""
    try:
        listener = Listener("127.0.0.2", arm.port)
    except OSError as exc:  # pragma: no cover - a loopback without 127/8
        pytest.skip(f"cannot listen on 127.0.0.2:{arm.port}: {exc}")
    yield listener
    listener.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _refused(client: DataProtectionClient, url: str, part: str) -> DataProtectionError:
    """Following ``url`` as a status URL is refused, naming ``part``; the token was never even fetched."""
    with pytest.raises(DataProtectionError, match="refusing to send the ARM token") as info:
        client.get_operation_status(url)
    error = info.value
    assert type(error) is DataProtectionError and not error.retryable
    assert f"(refused for its {part})" in error.advice and "ARM_ENDPOINT" in error.advice
    return error


def _untouched(recorder: Recorder, *listeners: Listener) -> None:
    assert [listener.connections for listener in listeners] == [0] * len(listeners)
    assert recorder.credential.calls == [] and recorder.paced == []


def test_next_link_to_127_0_0_2_on_the_same_port_gets_nothing(arm: Listener, decoy: Listener,
                                                               recorder: Recorder) -> None:
    """The probe's leak: ARM's first page answers a nextLink on 127.0.0.2, same port; that listener sees nothing."""
    arm.route(LIST, {"value": [{"name": "a"}], "nextLink": f"{decoy.origin}{LIST}?api-version={VERSION}&p=2"})
    decoy.route(LIST, {"value": [{"name": "stolen"}]})
    client = recorder.client(arm.origin)
    with pytest.raises(DataProtectionError, match="host is not ARM_ENDPOINT's"):
        client.list_backup_instances(VAULT)
    assert len(arm.requests) == 1 and decoy.connections == 0
    _refused(client, f"{decoy.origin}/subscriptions/s/operationStatus/op?api-version={VERSION}", "host")
    assert decoy.connections == 0 and len(arm.requests) == 1


def test_operation_and_location_urls_on_127_0_0_2_are_never_followed(arm: Listener, decoy: Listener,
                                                                     recorder: Recorder) -> None:
    """A 202 naming Azure-AsyncOperation and Location on 127.0.0.2: both polls refused, by both clients."""
    arm.route(f"{BI.path}/restore", {}, 202, {"Azure-AsyncOperation": f"{decoy.origin}/op?x=1",
                                              "Location": f"{decoy.origin}/loc?x=1", "Retry-After": "1"})
    client = recorder.client(arm.origin)
    operation = client.trigger_restore(BI, {"objectType": "x"})
    assert operation.status_url and operation.result_url
    with pytest.raises(DataProtectionError, match="refusing"):
        client.get_operation_status(operation.status_url)
    with pytest.raises(DataProtectionError, match="refusing"):
        client.get_operation_result(operation.result_url)
    loader = recorder.client(arm.origin, LoadClient)
    assert isinstance(loader, LoadClient)
    with pytest.raises(DataProtectionError, match="refusing"):
        loader.get_start_result(f"{decoy.origin}/loc")
    assert decoy.connections == 0 and len(arm.requests) == 1


def test_localhost_and_127_0_0_1_are_different_hosts(arm: Listener, recorder: Recorder) -> None:
    """Either name reaches the same listener, yet one is not the other's origin: no connection either way."""
    _refused(recorder.client(arm.origin), f"http://localhost:{arm.port}/op", "host")
    _refused(recorder.client(f"http://localhost:{arm.port}"), f"{arm.origin}/op", "host")
    _untouched(recorder, arm)


def test_another_port_is_refused(arm: Listener, recorder: Recorder) -> None:
    with listening("127.0.0.1") as other:
        _refused(recorder.client(arm.origin), f"{other.origin}/op", "port")
        _untouched(recorder, arm, other)


def test_https_for_an_http_endpoint_is_refused(arm: Listener, recorder: Recorder) -> None:
    """Same host and port, other scheme: not even a TLS hello reaches the listener."""
    _refused(recorder.client(arm.origin), f"https://127.0.0.1:{arm.port}/op", "scheme")
    _refused(recorder.client(arm.origin), f"ftp://127.0.0.1:{arm.port}/op", "scheme")
    _untouched(recorder, arm)


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}@127.0.0.2:{port}/op",
    "http://127.0.0.1:{port}@evil.example/op",
    "http://user:secret@127.0.0.1:{port}/op",
    "http://@127.0.0.1:{port}/op",
    "http://:pw@127.0.0.1:{port}/op",
])
def test_userinfo_is_refused(arm: Listener, decoy: Listener, recorder: Recorder, template: str) -> None:
    error = _refused(recorder.client(arm.origin), template.format(port=arm.port), "userinfo")
    assert "secret" not in str(error) and "pw@" not in str(error)  # userinfo is never shown
    _untouched(recorder, arm, decoy)


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}\\@127.0.0.2:{port}/op",
    "http://127.0.0.2:{port}\\@127.0.0.1:{port}/op",
    "http://127.0.0.1:{port}\\/op",
    "http:\\\\127.0.0.2:{port}/op",
    "http://127.0.0.1:{port}/op?next=\\@127.0.0.2",
])
def test_a_backslash_anywhere_is_refused(arm: Listener, decoy: Listener, recorder: Recorder, template: str) -> None:
    """requests 2.31 and urlsplit disagreed on which host ``a\\@b`` names: such a URL is never parsed at all."""
    _refused(recorder.client(arm.origin), template.format(port=arm.port), "backslash")
    _untouched(recorder, arm, decoy)


@pytest.mark.parametrize("template", [
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/op",  # full-width digits: 127.0.0.1 after NFKC
    "http://127.0.0.\uff12:{port}/op",  # ... and 127.0.0.2
    "http://l\u043ecalhost:{port}/op",  # Cyrillic o
    "http://127.0.0.1:\uff11{port}/op",  # a full-width port digit
    "http://127.0.0.1\uff0f@127.0.0.2:{port}/op",  # a full-width solidus
])
def test_non_ascii_is_refused(arm: Listener, decoy: Listener, recorder: Recorder, template: str) -> None:
    error = _refused(recorder.client(arm.origin), template.format(port=arm.port), "non-ASCII")
    assert str(error).isascii()  # escaped in the message
    _untouched(recorder, arm, decoy)


def test_an_idna_host_is_refused(recorder: Recorder) -> None:
    """Punycode is ASCII, but names a look-alike host: never ARM's."""
    _refused(recorder.client("https://management.azure.com"), "https://xn--mngement-5wa.azure.com/op", "host")
    _untouched(recorder)


@pytest.mark.parametrize("template", [
    " http://127.0.0.1:{port}/op",
    "http://127.0.0.1:{port}/op ",
    "http://127.0.0.\n2:{port}/op",
    "http://127.0.0.1:{port}\t@127.0.0.2:{port}/op",
    "http://127.0.0.1:{port}/op\r\nX-Injected: 1",
    "http://127.0.0.1:{port}/o p",
    "\x00http://127.0.0.1:{port}/op",
    "http://127.0.0.1:{port}/op\x7f",
    "http://127.0.0.1:{port}/op\u00a0",
    "http://127.0.0.1:{port}/op\u202e",
    "http://127.0.0.1\u3000@127.0.0.2:{port}/op",
])
def test_whitespace_and_control_characters_are_refused(arm: Listener, decoy: Listener, recorder: Recorder,
                                                        template: str) -> None:
    url = template.format(port=arm.port)
    error = _refused(recorder.client(arm.origin), url, "whitespace")
    assert "\n" not in str(error) and "\r" not in str(error)
    _untouched(recorder, arm, decoy)


def test_the_message_shows_at_most_about_100_characters_and_no_query(decoy: Listener, arm: Listener,
                                                                     recorder: Recorder) -> None:
    url = f"{decoy.origin}/{'a' * 5000}?sig=SECRETSAS"
    error = _refused(recorder.client(arm.origin), url, "host")
    assert "SECRETSAS" not in str(error) and "a" * 101 not in str(error) and len(str(error)) < 300
    _untouched(recorder, arm, decoy)


def test_a_next_link_on_the_exact_origin_is_followed_verbatim(arm: Listener, recorder: Recorder) -> None:
    """The legitimate case: page 2 on ARM's origin is fetched with the token, its query exactly as received."""
    query = f"api-version={VERSION}&$skipToken=a%2Fb%3D%3D&$filter=x%20eq%20'y'"
    arm.route(LIST, {"value": [{"name": "a"}], "nextLink": f"{arm.origin}{LIST}?{query}"})
    arm.route(f"{LIST}?{query}", {"value": [{"name": "b"}]})
    instances = recorder.client(arm.origin).list_backup_instances(VAULT)
    assert [i.name for i in instances] == ["a", "b"]
    assert [path for _, path, _ in arm.requests] == [f"{LIST}?api-version={VERSION}", f"{LIST}?{query}"]
    assert all(headers["Authorization"] == "Bearer token-1" for _, _, headers in arm.requests)


def test_a_unicode_path_on_the_exact_origin_is_followed(arm: Listener, recorder: Recorder) -> None:
    """Only the host must be ASCII: a resource group may have a Unicode name, and urllib3 percent-encodes it."""
    arm.route("/subscriptions/s/resourceGroups/r%C3%A9/op", {"status": "Succeeded"})
    assert recorder.client(arm.origin).get_operation_status(f"{arm.origin}/subscriptions/s/resourceGroups/r\u00e9/op"
                                                            ).status.done
    assert [path for _, path, _ in arm.requests] == ["/subscriptions/s/resourceGroups/r%C3%A9/op"]


def test_an_explicit_default_port_is_the_same_origin(recorder: Recorder) -> None:
    """https :443 == no port and http :80 == no port, both ways; any other port differs."""
    for endpoint, url in [("https://management.azure.com", "https://management.azure.com:443/x?y=1"),
                          ("https://management.azure.com:443", "https://Management.Azure.com/x"),
                          ("http://127.0.0.1", "http://127.0.0.1:80/x")]:
        check_arm_url(url, parse_origin(endpoint))
    with pytest.raises(OffArmUrl) as info:
        check_arm_url("https://management.azure.com:8443/x", parse_origin("https://management.azure.com"))
    assert info.value.part == "port"


def test_an_explicit_default_port_is_followed_over_a_socket(recorder: Recorder) -> None:
    """ARM_ENDPOINT without a port, a status URL with ``:80``: sent (needs port 80 on 127.0.0.3)."""
    try:
        listener = Listener("127.0.0.3", 80)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.3:80: {exc}")
    try:
        listener.route("/op", {"status": "Succeeded"})
        assert recorder.client("http://127.0.0.3").get_operation_status("http://127.0.0.3:80/op?x=1").status.done
        assert [path for _, path, _ in listener.requests] == ["/op?x=1"]
    finally:
        listener.close()


def test_the_parsers_must_agree() -> None:
    """The last guard: urlsplit, urllib3 and a PreparedRequest each must see the strict grammar's origin."""
    with pytest.raises(OffArmUrl, match="disagree"):
        _same_for_every_parser("http://127.0.0.1:1/x", parse_origin("http://127.0.0.2:1"))


@pytest.mark.parametrize("endpoint", [
    "http://user@127.0.0.1:8443", "https://:pw@management.azure.com", "http://127.0.0.1:8443@127.0.0.2",
    "http://127.0.0.1:8443\\@127.0.0.2", "https://management.azure.com\\", "https://manage\tment.azure.com",
    "https://m\u00e1nagement.azure.com", "https://management.azure.com:0",
])
def test_arm_endpoint_setting_and_client_refuse_userinfo_backslash_and_odd_characters(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"ARM_ENDPOINT": endpoint})
    assert info.value.setting == "ARM_ENDPOINT"
    with pytest.raises(ValueError, match="arm_endpoint"):
        DataProtectionClient(endpoint, VERSION, FakeCredential())


def test_arm_endpoint_setting_still_takes_ordinary_endpoints() -> None:
    expected: dict[str, Any] = {"https://management.azure.com/": "https://management.azure.com",
                                "HTTPS://Management.Azure.com": "https://management.azure.com",
                                "http://127.0.0.1:8443": "http://127.0.0.1:8443", "http://[::1]:8443": "http://[::1]:8443"}
    for value, normal in expected.items():
        assert Settings.from_env({"ARM_ENDPOINT": value}).arm_endpoint == normal


def test_ipv6_loopback_is_compared_exactly() -> None:
    """``[::1]`` is its own host: not 127.0.0.1, not localhost."""
    if not socket.has_ipv6:  # pragma: no cover
        pytest.skip("no IPv6")
    arm = parse_origin("http://[::1]:8443")
    check_arm_url("http://[::1]:8443/x", arm)
    for url in ("http://127.0.0.1:8443/x", "http://localhost:8443/x", "http://[::2]:8443/x"):
        with pytest.raises(OffArmUrl):
            check_arm_url(url, arm)


def test_a_netrc_login_for_the_arm_host_never_replaces_the_bearer_token(
        httpserver: Any, make_client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests puts a .netrc login in place of a request without auth (trust_env): the token is the request's
    auth, so the call carries it and no Basic credentials of whoever wrote that .netrc."""
    from urllib.parse import urlsplit

    host = urlsplit(httpserver.url_for("/")).hostname
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password secret\ndefault login anyone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen: list[str] = []

    def answer(request: Any) -> Any:
        from werkzeug import Response

        seen.append(request.headers.get("Authorization", ""))
        return Response('{"value": []}', content_type="application/json")

    httpserver.expect_request(f"{VAULT.path}/backupInstances").respond_with_handler(answer)
    assert make_client(VERSION).list_backup_instances(VAULT) == []
    assert seen and all(value.startswith("Bearer ") for value in seen), seen
