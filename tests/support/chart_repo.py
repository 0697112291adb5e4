"""Helm charts for tests: a real chart package built here (Chart.yaml, values.yaml, a template),
and a classic chart repository (``index.yaml`` + ``.tgz`` [+ ``.prov``]) served on loopback by
``http.server`` in a thread."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import ssl
import tarfile
import threading
from pathlib import Path

import yaml

TEMPLATE = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
"""


def build_chart(name: str, version: str, values: dict, app_version: str | None = "1.0.0") -> bytes:
    """A chart package as ``helm package`` lays it out (``NAME/Chart.yaml``, ``NAME/values.yaml``,
    ``NAME/templates/...``), byte-for-byte reproducible (fixed mtimes, gzip without a timestamp)."""
    chart = {"apiVersion": "v2", "name": name, "version": version, "description": "test chart " + name,
             "type": "application"}
    if app_version:
        chart["appVersion"] = app_version
    files = {"Chart.yaml": yaml.safe_dump(chart, sort_keys=False).encode(),
             "values.yaml": yaml.safe_dump(values, sort_keys=False).encode(),
             "templates/deployment.yaml": TEMPLATE}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo("%s/%s" % (name, path))
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


class ChartRepo:
    """A chart repository in *root* served on 127.0.0.1; ``add()`` writes a package and rewrites
    ``index.yaml``; ``requests`` records the paths asked for."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None) -> None:
        """*tls*: ``(certificate, key)`` to serve HTTPS instead of HTTP."""
        self.root = Path(root)
        self.scheme = "https" if tls else "http"
        self.root.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, list[dict]] = {}
        self.requests: list[str] = []
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(repo.root), **kwargs)

            def do_GET(self):
                repo.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d/charts" % (self.scheme, self.server.server_address[1])

    @property
    def host(self) -> str:
        return "127.0.0.1:%d" % self.server.server_address[1]

    def add(self, name: str, version: str, package: bytes, prov: bytes | None = None,
            digest: str | None = None) -> None:
        """Publish *package* (its index digest *digest*, default the real sha256)."""
        directory = self.root / "charts" / "packages"
        directory.mkdir(parents=True, exist_ok=True)
        filename = "%s-%s.tgz" % (name, version)
        (directory / filename).write_bytes(package)
        if prov is not None:
            (directory / (filename + ".prov")).write_bytes(prov)
        self.entries.setdefault(name, []).append({
            "apiVersion": "v2", "name": name, "version": version,
            "digest": digest or hashlib.sha256(package).hexdigest(),
            "urls": ["packages/" + filename]})
        index = {"apiVersion": "v1", "entries": self.entries, "generated": "2026-01-01T00:00:00Z"}
        (self.root / "charts" / "index.yaml").write_text(yaml.safe_dump(index))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
