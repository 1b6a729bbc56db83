"""A local fake of an HTTPS site, reached through HTTPS_PROXY.

The server process is started with HTTPS_PROXY pointing here, so its real client
code makes real HTTPS requests: this proxy accepts the CONNECT for the site's
host, terminates TLS with a certificate from its own test CA, and lets a
subclass answer. Nothing leaves the machine.
"""

import socket
import ssl
import tempfile
import threading

import trustme


class FakeHttpsSite:
    """Subclasses answer one request per connection in `answer`."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.ca = trustme.CA()
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(host).configure_cert(self._tls)
        self._ca_file = tempfile.NamedTemporaryFile(suffix=".pem")  # noqa: SIM115 - closed in close()
        self.ca.cert_pem.write_to_path(self._ca_file.name)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self.silent = False  # takes connections and never answers, as a proxy in front of a firewall does
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def proxy_env(self) -> dict[str, str]:
        """Requests go through this fake, whose certificate the client does not trust."""
        url = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": url, "https_proxy": url, "NO_PROXY": "", "no_proxy": ""}

    @property
    def trusted_env(self) -> dict[str, str]:
        """As proxy_env, and the fake's CA trusted the way a corporate proxy's CA is."""
        return {**self.proxy_env, "REQUESTS_CA_BUNDLE": self._ca_file.name, "SSL_CERT_FILE": self._ca_file.name}

    def close(self) -> None:
        self._listener.close()
        self._ca_file.close()
        for conn in self._connections:
            conn.close()

    def answer(self, tls: ssl.SSLSocket, method: str, path: str, body: bytes) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            if not self.silent:
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            reader = conn.makefile("rb")
            request_line = reader.readline().decode()
            assert request_line.startswith(f"CONNECT {self.host}:"), request_line
            while reader.readline() not in (b"\r\n", b""):
                pass
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            tls = self._tls.wrap_socket(conn, server_side=True)
            self._connections.append(tls)
            reader = tls.makefile("rb")
            method, path, _ = reader.readline().decode().split(" ", 2)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.answer(tls, method, path, reader.read(length))
        except (OSError, ssl.SSLError, ValueError):
            pass  # a client that refused our certificate, or went away


def http_response(status: str, body: bytes = b"", content_type: str = "application/octet-stream") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
