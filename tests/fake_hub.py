"""A local fake of the model hub that piper's downloader fetches voices from (see fake_https)."""

import ssl
from pathlib import Path

from tests.fake_https import FakeHttpsSite, http_response


class FakeHub(FakeHttpsSite):
    """Serves the files given, by name, under any path; anything else is 404."""

    def __init__(self, files: dict[str, Path]) -> None:
        super().__init__("huggingface.co")
        self.files = files
        self.paths: list[str] = []

    def answer(self, tls: ssl.SSLSocket, method: str, path: str, body: bytes) -> None:
        self.paths.append(path)
        name = path.split("?", 1)[0].rsplit("/", 1)[-1]
        if method == "GET" and name in self.files:
            tls.sendall(http_response("200 OK", self.files[name].read_bytes()))
        else:
            tls.sendall(http_response("404 Not Found"))
