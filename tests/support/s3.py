"""S3 over real HTTP: ``moto_server`` as a separate process; boto3 talks to it over HTTP."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.harness import free_port

S3_TEST_BUCKET = "newsarchive-test"


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` in its own process; boto3 talks to it over HTTP.

    :meth:`stop` kills the process (its objects are gone with it); :meth:`start` again binds
    the same port, so clients configured with :attr:`endpoint_url` keep working.
    """

    access_key = "newsarchive-test-key"
    secret_key = "newsarchive-test-secret"
    region = "us-east-1"

    def __init__(self, executable: str, log_path: Path, port: int | None = None) -> None:
        self.executable = executable
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a ``newsarchive`` subprocess needs to reach this server."""
        return {"NEWSARCHIVE_S3_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self, timeout: float = 30.0) -> MotoServer:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [self.executable, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server on port {self.port} exited with "
                                   f"{self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server on port {self.port} did not answer within "
                                   f"{timeout:g} s: {self.log_tail()}")
            time.sleep(0.05)  # poll interval

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def client(self, **config: Any) -> Any:
        """A fresh boto3 S3 client (path-style) for this server."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, **config))

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def storage(self, url: str, **options: Any) -> Any:
        """An ``archive.s3.S3Storage`` for ``url`` on this server (its own client)."""
        from archive.s3 import S3Storage

        return S3Storage(url, endpoint_url=self.endpoint_url, region_name=self.region,
                         aws_access_key_id=self.access_key,
                         aws_secret_access_key=self.secret_key, **options)


def moto_server_executable() -> str | None:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    return shutil.which("moto_server")


class RequestLog:
    """Every S3 request a boto3 client actually sends (botocore ``before-send`` hook):
    operation name, HTTP headers and query parameters."""

    def __init__(self, client: Any) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, list[str]]]] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, event_name: str, **_: Any) -> None:
        headers = {k: (v.decode() if isinstance(v, bytes) else v)
                   for k, v in request.headers.items()}
        self.requests.append((event_name.rsplit(".", 1)[-1], headers,
                              parse_qs(urlsplit(request.url).query)))

    def ops(self, name: str | None = None) -> list[str]:
        return [op for op, _, _ in self.requests if name is None or op == name]

    def part_numbers(self) -> list[int]:
        return [int(query["partNumber"][0]) for op, _, query in self.requests
                if op == "UploadPart"]
