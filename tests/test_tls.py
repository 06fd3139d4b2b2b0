"""TLS over real loopback sockets: verification on by default, `ca_certs=` for a private CA, a
certificate for another host refused, `verify=False` connecting, and HTTPS through a proxy's CONNECT
tunnel, whose proxy sees neither the request nor the key.

Certificates come from trustme (a throwaway CA per test module); the server is http.server wrapped
in TLS, answering one JSON body.
"""

from __future__ import annotations

import http.server
import json
import select
import socket
import ssl
import threading
from typing import Iterator

import pytest
import urllib3

import dynclient

from _specs import CANARY, spec_30

trustme = pytest.importorskip("trustme", reason="trustme (in the test extra) makes the test certificates")

ANSWER = {"ok": True}


@pytest.fixture(scope="module")
def ca() -> "trustme.CA":
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:   # noqa: N802
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def tls_server(ca, *names: str) -> Iterator[http.server.ThreadingHTTPServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server(ca):
    yield from tls_server(ca, "127.0.0.1", "localhost")


@pytest.fixture
def wrong_host_server(ca):
    yield from tls_server(ca, "api.example.test")


def client_for(httpd, **options) -> dynclient.Client:
    base_url = f"https://127.0.0.1:{httpd.server_address[1]}"
    return dynclient.Client(spec_30(), base_url=base_url, **options)


def test_certificate_of_an_unknown_ca_is_refused_at_once_and_typed(server, caplog):
    client = client_for(server)   # default: verified against the system's CAs, 2 retries
    with caplog.at_level("INFO", logger="dynclient"), pytest.raises(dynclient.CertificateVerifyError) as info:
        client.call("ping")
    assert isinstance(info.value, dynclient.APIConnectionError) and info.value.operation_id == "ping"
    assert "certificate verification failed" in str(info.value) and "local issuer" in str(info.value)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]   # the same certificate fails again
    assert server.seen == []


def test_ca_certs_trusts_a_private_ca(server, ca_file):
    with client_for(server, ca_certs=ca_file, api_key=CANARY) as client:
        assert client.call("ping") == ANSWER
    assert [path for path, _ in server.seen] == ["/ping"]


def test_a_certificate_for_another_host_is_refused(wrong_host_server, ca_file):
    client = client_for(wrong_host_server, ca_certs=ca_file)
    with pytest.raises(dynclient.CertificateVerifyError, match="match|mismatch"):
        client.call("ping")
    assert wrong_host_server.seen == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_connects_to_an_unknown_ca(server):
    assert client_for(server, verify=False).call("ping") == ANSWER


# --- HTTPS through a proxy: a CONNECT tunnel -----------------------------------------------


class ConnectProxy:
    """A forward proxy that only tunnels: it reads `CONNECT host:port`, answers 200, then copies
    bytes both ways. It records the CONNECT lines and every byte that went through."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connects: list[str] = []
        self.through = bytearray()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return conn.close()
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        self.connects.append(line)
        host, port = line.split()[1].rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with conn, upstream:
            while True:
                ready, _, _ = select.select([conn, upstream], [], [], 5)
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    self.through += data
                    (upstream if source is conn else conn).sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def connect_proxy():
    proxy = ConnectProxy()
    yield proxy
    proxy.close()


def test_https_through_a_proxy_tunnels_and_the_proxy_sees_no_secret(server, ca_file, connect_proxy):
    client = client_for(server, ca_certs=ca_file, api_key=CANARY, proxy=f"http://127.0.0.1:{connect_proxy.port}")
    assert client.call("ping") == ANSWER
    assert [line.rsplit(" ", 1)[0] for line in connect_proxy.connects] == [
        f"CONNECT 127.0.0.1:{server.server_address[1]}"]
    assert server.seen and server.seen[0][0] == "/ping"
    assert CANARY.encode() not in connect_proxy.through and b"/ping" not in connect_proxy.through
