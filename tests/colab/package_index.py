"""A package index on 127.0.0.1 that serves a few wheels the way PyPI serves them (PEP 503).

The Colab layer points pip at it (``PIP_INDEX_URL``, and no other index) and runs the labs'
set-up cell as it is: ``%pip install "nn-complexity-labs==X.Y.Z"`` then installs the wheel
``make dist`` builds, offline. The index writes down every project pip asks it for and every
file pip downloads, so a test can say what else an install wanted.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


def normalize(name: str) -> str:
    """A project name as the index spells it (PEP 503): ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(wheel: Path) -> str:
    """The project a wheel file belongs to, from its name (PEP 427: ``{name}-{version}-...whl``)."""
    if wheel.suffix != ".whl" or wheel.name.count("-") < 4:
        raise ValueError(f"expected a wheel file name like name-1.0-py3-none-any.whl, got {wheel.name!r}")
    return normalize(wheel.name.split("-", 1)[0])


class _Handler(BaseHTTPRequestHandler):
    """Answers ``/simple/<project>/`` with links to its wheels and ``/files/<wheel>`` with the file."""

    server: _IndexServer

    def do_GET(self) -> None:
        index = self.server.index
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            project = normalize(parts[1])
            index.asked.append(project)
            if project in index.projects:
                self._send(index.project_page(project).encode(), "text/html; charset=utf-8")
                return
        elif len(parts) == 2 and parts[0] == "files" and parts[1] in index.files:
            index.downloaded.append(parts[1])
            self._send(index.files[parts[1]].read_bytes(), "application/octet-stream")
            return
        self.send_error(HTTPStatus.NOT_FOUND)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the index keeps its own record (``asked``, ``downloaded``)."""


class _IndexServer(ThreadingHTTPServer):
    index: LocalIndex


class LocalIndex:
    """A PEP 503 "simple" index of ``wheels`` on ``http://127.0.0.1:<free port>/simple/``.

    Use it as a context manager: the server runs in a thread inside the ``with`` block.
    ``asked`` lists the projects pip asked for, in order; ``downloaded`` the files it fetched.
    """

    def __init__(self, wheels: list[Path]) -> None:
        if not wheels:
            raise ValueError("a package index needs at least one wheel to serve, got none")
        self.files = {Path(w).name: Path(w) for w in wheels}
        self.projects: dict[str, list[str]] = {}
        for name, path in self.files.items():
            if not path.is_file():
                raise ValueError(f"no wheel at {path}")
            self.projects.setdefault(wheel_project(path), []).append(name)
        self.asked: list[str] = []
        self.downloaded: list[str] = []
        self._server: _IndexServer | None = None

    @property
    def url(self) -> str:
        """The index's address, for ``PIP_INDEX_URL``."""
        if self._server is None:
            raise RuntimeError("the index is not serving: use it in a `with` block")
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def project_page(self, project: str) -> str:
        """The page of ``project``: one link per wheel, with its ``#sha256=`` that pip checks."""
        links = []
        for name in sorted(self.projects[project]):
            digest = hashlib.sha256(self.files[name].read_bytes()).hexdigest()
            links.append(f'<a href="/files/{html.escape(name)}#sha256={digest}">{html.escape(name)}</a><br>')
        return (
            f"<!DOCTYPE html>\n<html><body>\n<h1>Links for {project}</h1>\n{''.join(links)}\n</body></html>\n"
        )

    def unserved(self) -> list[str]:
        """The projects pip asked for that this index does not hold: what the install lacked."""
        return sorted({p for p in self.asked if p not in self.projects})

    def __enter__(self) -> LocalIndex:
        self._server = _IndexServer(("127.0.0.1", 0), _Handler)
        self._server.index = self
        threading.Thread(target=self._server.serve_forever, name="package-index", daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
