"""Deterministic sample images written as OCI image layouts (stdlib only), and seeding with skopeo.

Every byte is derived from the arguments: tar entries are sorted with mtime 0 and uid/gid 0,
gzip streams carry mtime 0, "random" payloads come from ``random.Random(seed)``. Building the
same thing twice gives the same digests.

Usage::

    layout = OCILayout(tmp_path / "oci")
    img = build_image(layout, "single", layers=[{"hello.txt": "hi\\n"}])       # OCI manifest
    multi = build_index(layout, "multi")                       # index: linux/amd64 + linux/arm64
    nested = build_nested_index(layout, "nested")              # index -> index -> manifests
    legacy = build_image(layout, "docker-single", docker=True)  # Docker schema2 types
    dlist = build_index(layout, "docker-list", docker=True)    # Docker manifest list
    empty = build_empty_layer_image(layout, "empty-layer")     # has a 0-byte layer blob
    big = build_large_image(layout, "large", size=200 << 20)   # streamed, ~1 MiB of RAM
    web = build_rootfs_image(layout, "httpd", rootfs_dir, cmd=["/bin/httpd", "-f"])

    img.digest, img.size, img.media_type, img.oci_ref        # "oci:/…/oci:single" for skopeo
    img.children                                             # index members (each an Image)
    seed_registry(multi, registry, "test/multi", "1")        # skopeo copy --all --preserve-digests

    samples = sample_set(tmp_path / "samples")               # the demo's set (see sample_set)
    samples.seed(registry)                                   # push all of them with skopeo

An image's ``ref`` is recorded in the layout's ``index.json`` with the annotation
``org.opencontainers.image.ref.name``; index members are not tagged (they are reached through
their index). Config blobs are real image configs (architecture, os, rootfs.diff_ids = sha256 of
the uncompressed tar) so podman and skopeo accept them.

Docker media types are recorded in the same ``index.json`` (the image-layout spec allows any
descriptor), but skopeo 1.9's ``oci:`` transport only finds OCI-typed entries ("no descriptor
found for reference"), so :func:`seed_registry` sends Docker-typed images through a ``dir:``
export (:func:`export_dir`), which keeps media types and digests. skopeo 1.9 cannot copy a
nested index at all; :func:`seed_registry` pushes those with plain HTTP (:func:`push_http`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import stat
import tarfile
import tempfile
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence, Union

__all__ = [
    "OCI_MANIFEST", "OCI_INDEX", "OCI_CONFIG", "OCI_LAYER_TAR", "OCI_LAYER_GZIP",
    "DOCKER_MANIFEST", "DOCKER_LIST", "DOCKER_CONFIG", "DOCKER_LAYER_GZIP", "REF_NAME",
    "Descriptor", "Layer", "Image", "OCILayout", "SampleSet",
    "add_layer", "add_large_layer", "add_rootfs_layer", "add_empty_layer",
    "build_image", "build_index", "build_nested_index", "build_empty_layer_image",
    "build_large_image", "build_rootfs_image", "sample_set", "seed_registry",
    "export_dir", "push_http", "skopeo_source",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"

_CHUNK = 1 << 20
_EPOCH = "1970-01-01T00:00:00Z"


# -- data -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    platform: Mapping | None = None
    annotations: Mapping | None = None

    def to_json(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def with_(self, **changes) -> "Descriptor":
        values = {"media_type": self.media_type, "digest": self.digest, "size": self.size,
                  "platform": self.platform, "annotations": self.annotations}
        values.update(changes)
        return Descriptor(**values)


@dataclass(frozen=True)
class Layer:
    """A layer blob already stored in a layout.

    ``compressed`` says whether the blob is gzip (its media type is then the ``+gzip``/``.gzip``
    one); ``diff_id`` is the sha256 of the uncompressed tar (what the config lists).
    """

    digest: str
    size: int
    diff_id: str
    compressed: bool

    def descriptor(self, docker: bool = False) -> Descriptor:
        if docker:
            if not self.compressed:
                raise ValueError("Docker schema2 has no media type for an uncompressed layer here; "
                                 "use compress=True for Docker images")
            return Descriptor(DOCKER_LAYER_GZIP, self.digest, self.size)
        return Descriptor(OCI_LAYER_GZIP if self.compressed else OCI_LAYER_TAR, self.digest, self.size)


@dataclass
class Image:
    """What a builder returns: an image manifest or an index stored in ``layout``.

    ``ref`` is the name in ``index.json`` (``None`` for an index member). ``children`` are the
    members of an index (recursively ``Image``), ``config``/``layers`` are set for manifests.
    """

    layout: "OCILayout"
    ref: str | None
    descriptor: Descriptor
    children: list["Image"] = field(default_factory=list)
    config: Descriptor | None = None
    layers: list[Descriptor] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        """Size of the manifest/index blob itself."""
        return self.descriptor.size

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    @property
    def platform(self) -> Mapping | None:
        return self.descriptor.platform

    @property
    def is_index(self) -> bool:
        return self.media_type in (OCI_INDEX, DOCKER_LIST)

    @property
    def oci_ref(self) -> str:
        """The skopeo source reference ``oci:<layout>:<ref>`` (only for tagged images)."""
        if self.ref is None:
            raise ValueError(f"{self.digest} is an index member without a ref name; use its parent")
        return f"oci:{self.layout.path}:{self.ref}"

    def manifests(self) -> list["Image"]:
        """This image and every nested member, depth first (indexes before their members)."""
        out = [self]
        for child in self.children:
            out.extend(child.manifests())
        return out

    def blobs(self) -> dict[str, int]:
        """Every blob this image needs (manifests, configs, layers) as digest -> size."""
        out: dict[str, int] = {}
        for image in self.manifests():
            out[image.digest] = image.size
            if image.config is not None:
                out[image.config.digest] = image.config.size
            for layer in image.layers:
                out[layer.digest] = layer.size
        return out

    @property
    def total_size(self) -> int:
        """Sum of the sizes of every distinct blob (what a full copy moves)."""
        return sum(self.blobs().values())


# -- the layout -------------------------------------------------------------------------------------

class _BlobWriter:
    """A write-only file object that streams into a layout blob.

    Hashes what it is given (the ``diff_id`` when compressing), optionally gzips it on the fly
    (deterministic: zlib's gzip header has mtime 0), and on :meth:`commit` renames the temp
    file to ``blobs/sha256/<digest>``.
    """

    def __init__(self, layout: "OCILayout", compress: bool, level: int = 6) -> None:
        self._layout = layout
        fd, self._tmp = tempfile.mkstemp(dir=layout.blob_dir, prefix=".tmp-")
        self._file = os.fdopen(fd, "wb")
        self._raw = hashlib.sha256()
        self._stored = hashlib.sha256()
        self._raw_size = 0
        self._size = 0
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31) if compress else None

    def tell(self) -> int:  # tarfile asks
        return self._raw_size

    def write(self, data: bytes) -> int:
        self._raw.update(data)
        self._raw_size += len(data)
        self._store(self._zip.compress(data) if self._zip else data)
        return len(data)

    def _store(self, data: bytes) -> None:
        if data:
            self._stored.update(data)
            self._size += len(data)
            self._file.write(data)

    def commit(self) -> tuple[str, int, str]:
        """Finish the blob; returns ``(digest, size, sha256 of the uncompressed bytes)``."""
        if self._zip:
            self._store(self._zip.flush())
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = "sha256:" + self._stored.hexdigest()
        os.replace(self._tmp, self._layout.blob_path(digest))
        return digest, self._size, "sha256:" + self._raw.hexdigest()

    def abort(self) -> None:
        self._file.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


class OCILayout:
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/sha256/``).

    Opening an existing layout keeps its ``index.json`` entries. ``tag`` replaces an entry with
    the same ref name and rewrites ``index.json`` atomically.
    """

    def __init__(self, path: os.PathLike | str) -> None:
        self.path = Path(path).resolve()
        self.blob_dir = self.path / "blobs" / "sha256"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        marker = self.path / "oci-layout"
        if not marker.exists():
            marker.write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        index = self.path / "index.json"
        self._entries: list[dict] = json.loads(index.read_text())["manifests"] if index.exists() else []
        if not index.exists():
            self._write_index()

    def blob_path(self, digest: str) -> Path:
        algorithm, hexpart = digest.split(":", 1) if ":" in digest else ("", digest)
        if algorithm != "sha256" or len(hexpart) != 64:
            raise ValueError(f"unsupported digest {digest!r}")
        return self.blob_dir / hexpart

    def put_bytes(self, data: bytes, media_type: str) -> Descriptor:
        """Store ``data`` as a blob (idempotent) and return its descriptor."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.blob_path(digest)
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=self.blob_dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        return Descriptor(media_type, digest, len(data))

    def put_json(self, obj: Mapping, media_type: str) -> Descriptor:
        """Store ``obj`` as canonical JSON (sorted keys, no whitespace)."""
        return self.put_bytes(_canonical(obj), media_type)

    def writer(self, compress: bool, level: int = 6) -> _BlobWriter:
        """A streaming blob writer (see :class:`_BlobWriter`)."""
        return _BlobWriter(self, compress, level)

    def tag(self, ref: str, descriptor: Descriptor) -> None:
        """Record ``descriptor`` in ``index.json`` under ``org.opencontainers.image.ref.name=ref``."""
        annotations = dict(descriptor.annotations or {})
        annotations[REF_NAME] = ref
        entry = descriptor.with_(annotations=annotations).to_json()
        self._entries = [e for e in self._entries if e.get("annotations", {}).get(REF_NAME) != ref]
        self._entries.append(entry)
        self._entries.sort(key=lambda e: e["annotations"].get(REF_NAME, ""))
        self._write_index()

    def refs(self) -> dict[str, dict]:
        """Ref name -> the ``index.json`` descriptor (as JSON)."""
        return {e["annotations"][REF_NAME]: e for e in self._entries if REF_NAME in e.get("annotations", {})}

    def verify(self) -> int:
        """Check that every blob's sha256 matches its file name; returns the number of blobs."""
        count = 0
        for blob in sorted(self.blob_dir.iterdir()):
            if blob.name.startswith("."):
                continue
            hasher = hashlib.sha256()
            with open(blob, "rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    hasher.update(chunk)
            if hasher.hexdigest() != blob.name:
                raise ValueError(f"{blob}: content hashes to sha256:{hasher.hexdigest()}")
            count += 1
        return count

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self._entries}
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".index-")
        with os.fdopen(fd, "w") as handle:
            json.dump(index, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, self.path / "index.json")


def _canonical(obj: Mapping) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# -- layers -----------------------------------------------------------------------------------------

FileSpec = Mapping[str, Union[bytes, str]]


def _tarinfo(name: str, size: int = 0, mode: int = 0o644, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = size, mode, kind
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def add_layer(layout: OCILayout, files: FileSpec, *, compress: bool = True) -> Layer:
    """A layer holding ``files`` (path -> content; parents become 0755 directories).

    Paths are relative (``"etc/motd"``); ``str`` content is UTF-8 encoded; mode 0644, or 0755
    when the path ends in ``.sh``.
    """
    writer = layout.writer(compress)
    try:
        with tarfile.open(fileobj=writer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            dirs = sorted({str(Path(p).parents[i]) for p in files for i in range(len(Path(p).parents) - 1)})
            for directory in dirs:
                tar.addfile(_tarinfo(directory, mode=0o755, kind=tarfile.DIRTYPE))
            for name in sorted(files):
                data = files[name]
                data = data.encode() if isinstance(data, str) else bytes(data)
                tar.addfile(_tarinfo(name, len(data), 0o755 if name.endswith(".sh") else 0o644), io.BytesIO(data))
    except BaseException:
        writer.abort()
        raise
    digest, size, diff_id = writer.commit()
    return Layer(digest, size, diff_id if compress else digest, compress)


def add_empty_layer(layout: OCILayout) -> Layer:
    """A 0-byte layer blob (digest ``sha256:e3b0c442…``), uncompressed media type.

    An empty stream is what a tar reader sees as an empty archive; its diff_id is the same digest.
    """
    desc = layout.put_bytes(b"", OCI_LAYER_TAR)
    return Layer(desc.digest, 0, desc.digest, False)


def _random_chunks(size: int, seed: int, chunk: int = _CHUNK) -> Iterator[bytes]:
    rng = random.Random(seed)
    remaining = size
    while remaining > 0:
        step = min(chunk, remaining)
        yield rng.randbytes(step)
        remaining -= step


def add_large_layer(layout: OCILayout, size: int, *, seed: int = 0, compress: bool = False,
                    name: str = "payload.bin") -> Layer:
    """A layer whose tar holds one file of ``size`` deterministic pseudo-random bytes.

    Streamed in 1 MiB chunks, never held in memory: 200 MiB takes about a second uncompressed.
    The blob is ``size`` + 512 (header) + padding + the tar trailer. ``compress=True`` gzips it
    (level 1; random data does not shrink, so it only costs time).
    """
    writer = layout.writer(compress, level=1)
    try:
        writer.write(_tarinfo(name, size).tobuf(tarfile.GNU_FORMAT))
        for chunk in _random_chunks(size, seed):
            writer.write(chunk)
        writer.write(b"\0" * ((-size) % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE))
    except BaseException:
        writer.abort()
        raise
    digest, stored, diff_id = writer.commit()
    return Layer(digest, stored, diff_id if compress else digest, compress)


def add_rootfs_layer(layout: OCILayout, rootfs: os.PathLike | str, *, compress: bool = True) -> Layer:
    """A layer made from a directory tree (symlinks kept, modes kept, owners and times zeroed).

    Entries are added in sorted order with paths relative to ``rootfs`` (``bin/busybox``), so the
    same tree always gives the same digest. Sockets are skipped.
    """
    root = Path(rootfs)
    if not root.is_dir():
        raise ValueError(f"rootfs {root} is not a directory")
    writer = layout.writer(compress)
    try:
        with tarfile.open(fileobj=writer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in _walk_sorted(root):
                arcname = path.relative_to(root).as_posix()
                if stat.S_ISSOCK(path.lstat().st_mode):
                    continue
                info = tar.gettarinfo(str(path), arcname)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if info.isreg():
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
    except BaseException:
        writer.abort()
        raise
    digest, size, diff_id = writer.commit()
    return Layer(digest, size, diff_id if compress else digest, compress)


def _walk_sorted(root: Path) -> Iterator[Path]:
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        path = Path(entry.path)
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_sorted(path)


# -- manifests and indexes --------------------------------------------------------------------------

def _platform(spec: str) -> dict:
    parts = spec.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform {spec!r} must be os/arch or os/arch/variant")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def build_image(layout: OCILayout, ref: str | None, *,
                layers: Sequence[Layer | FileSpec] | None = None, platform: str = "linux/amd64",
                docker: bool = False, cmd: Sequence[str] | None = None,
                entrypoint: Sequence[str] | None = None, env: Sequence[str] | None = None,
                working_dir: str | None = None, labels: Mapping[str, str] | None = None,
                annotations: Mapping[str, str] | None = None, exposed_ports: Sequence[str] = ()) -> Image:
    """One image manifest (OCI by default, Docker schema2 with ``docker=True``).

    ``layers`` items are :class:`Layer` objects (already in the layout, e.g. a shared base) or
    file mappings turned into gzip layers. Default: one small layer naming the ref and platform.
    ``ref=None`` stores the image without an ``index.json`` entry (for index members).
    """
    if layers is None:
        layers = [{"etc/airgap-sample": f"ref={ref}\nplatform={platform}\n"}]
    stored = [item if isinstance(item, Layer) else add_layer(layout, item) for item in layers]
    plat = _platform(platform)
    container_config: dict = {"Env": list(env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])}
    if cmd:
        container_config["Cmd"] = list(cmd)
    if entrypoint:
        container_config["Entrypoint"] = list(entrypoint)
    if working_dir:
        container_config["WorkingDir"] = working_dir
    if labels:
        container_config["Labels"] = dict(labels)
    if exposed_ports:
        container_config["ExposedPorts"] = {port: {} for port in exposed_ports}
    config = {
        "architecture": plat["architecture"],
        "os": plat["os"],
        "created": _EPOCH,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in stored]},
        "history": [{"created": _EPOCH, "created_by": f"airgap.mirror test bed layer {i}"} for i in range(len(stored))],
    }
    if "variant" in plat:
        config["variant"] = plat["variant"]
    config_desc = layout.put_json(config, DOCKER_CONFIG if docker else OCI_CONFIG)
    layer_descs = [layer.descriptor(docker) for layer in stored]
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": config_desc.to_json(),
                "layers": [d.to_json() for d in layer_descs]}
    if annotations and not docker:
        manifest["annotations"] = dict(annotations)
    desc = layout.put_json(manifest, media_type).with_(platform=plat)
    image = Image(layout, ref, desc, config=config_desc, layers=layer_descs)
    if ref is not None:
        layout.tag(ref, desc.with_(platform=None))
    return image


def build_index(layout: OCILayout, ref: str | None, members: Sequence[Image] | None = None, *,
                platforms: Sequence[str] = ("linux/amd64", "linux/arm64"), docker: bool = False,
                base: Layer | None = None, annotations: Mapping[str, str] | None = None) -> Image:
    """An image index (OCI) or manifest list (``docker=True``).

    ``members`` are existing images (their platform goes into the descriptor; a member index has
    none). Without ``members``, one image per ``platforms`` entry is built: the shared ``base``
    layer (if given) plus a small layer naming the platform.
    """
    if members is None:
        members = []
        for spec in platforms:
            layers: list = [base] if base is not None else []
            layers.append({"etc/airgap-sample": f"ref={ref}\nplatform={spec}\n"})
            members.append(build_image(layout, None, layers=layers, platform=spec, docker=docker))
    media_type = DOCKER_LIST if docker else OCI_INDEX
    index = {"schemaVersion": 2, "mediaType": media_type,
             "manifests": [m.descriptor.to_json() for m in members]}
    if annotations and not docker:
        index["annotations"] = dict(annotations)
    desc = layout.put_json(index, media_type)
    image = Image(layout, ref, desc, children=list(members))
    if ref is not None:
        layout.tag(ref, desc)
    return image


def build_nested_index(layout: OCILayout, ref: str) -> Image:
    """An OCI index whose first member is another index (linux/amd64 + linux/arm64) and whose
    second member is a plain linux/s390x manifest."""
    inner = build_index(layout, None, platforms=("linux/amd64", "linux/arm64"),
                        annotations={"org.opencontainers.image.title": f"{ref} inner index"})
    extra = build_image(layout, None, platform="linux/s390x",
                        layers=[{"etc/airgap-sample": f"ref={ref}\nplatform=linux/s390x\n"}])
    return build_index(layout, ref, [inner, extra])


def build_empty_layer_image(layout: OCILayout, ref: str, *, platform: str = "linux/amd64") -> Image:
    """An OCI image with a normal layer followed by a 0-byte layer blob."""
    layers = [add_layer(layout, {"etc/airgap-sample": f"ref={ref}\n"}), add_empty_layer(layout)]
    return build_image(layout, ref, layers=layers, platform=platform)


def build_large_image(layout: OCILayout, ref: str, size: int, *, seed: int = 0,
                      compress: bool = False, platform: str = "linux/amd64") -> Image:
    """An OCI image with one large layer of ``size`` pseudo-random bytes (see add_large_layer)."""
    layer = add_large_layer(layout, size, seed=seed, compress=compress)
    return build_image(layout, ref, layers=[layer], platform=platform)


def build_rootfs_image(layout: OCILayout, ref: str, rootfs: os.PathLike | str, *,
                       platform: str = "linux/amd64", docker: bool = False, **config) -> Image:
    """A runnable image from a directory tree; ``config`` goes to :func:`build_image`
    (``cmd``, ``entrypoint``, ``env``, ``working_dir``, ``labels``, ``exposed_ports``).

    Example: a busybox tree (``bin/busybox`` + symlinks) with ``cmd=["/bin/httpd", "-f", "-p",
    "8080"]`` is an image podman can run.
    """
    layer = add_rootfs_layer(layout, rootfs)
    return build_image(layout, ref, layers=[layer], platform=platform, docker=docker, **config)


# -- the demo's sample set --------------------------------------------------------------------------

@dataclass
class SampleSet:
    """The demo's images in one layout: ``images`` maps ref name -> :class:`Image`;
    ``targets`` maps ref name -> (repository, tag) to use when seeding a registry."""

    layout: OCILayout
    images: dict[str, Image]
    targets: dict[str, tuple[str, str]]

    def __getitem__(self, ref: str) -> Image:
        return self.images[ref]

    def digests(self) -> dict[str, str]:
        return {ref: image.digest for ref, image in self.images.items()}

    def seed(self, registry, *, prefix: str = "", **skopeo_options) -> dict[str, str]:
        """Push every image to ``registry`` with skopeo at ``<prefix><repository>:<tag>``;
        returns ref name -> pushed reference (``host/repo:tag``)."""
        pushed = {}
        for ref, image in self.images.items():
            repository, tag = self.targets[ref]
            seed_registry(image, registry, prefix + repository, tag, **skopeo_options)
            pushed[ref] = f"{registry.host}/{prefix}{repository}:{tag}"
        return pushed


def sample_set(path: os.PathLike | str) -> SampleSet:
    """Build the demo's set into an OCI layout at ``path`` (same digests on every run).

    Refs (repository:tag when seeded):

    - ``app-1.0`` (sample/app:1.0) and ``app-1.1`` (sample/app:1.1): single-arch linux/amd64 OCI
      images on the shared base layer;
    - ``tool-2.0`` (sample/tool:2.0): OCI index, linux/amd64 + linux/arm64, shared base layer;
    - ``web-stable`` (sample/web:stable): Docker manifest list, linux/amd64 + linux/arm64/v8;
    - ``db-15`` (sample/db:15): single-arch Docker schema2 image on the shared base layer.

    Each image is a few KB; the base layer is stored once.
    """
    layout = OCILayout(path)
    rng = random.Random(20261121)
    base = add_layer(layout, {
        "etc/os-release": 'NAME="airgap sample base"\nID=airgap-sample\nVERSION_ID=1\n',
        "etc/motd": "airgap.mirror sample image\n",
        "usr/share/airgap/noise.bin": rng.randbytes(2048),
    })
    images: dict[str, Image] = {}
    targets: dict[str, tuple[str, str]] = {}

    def app(version: str) -> Image:
        top = add_layer(layout, {"app/VERSION": version + "\n", "app/run.sh": f"#!/bin/sh\necho app {version}\n",
                                 "app/data.bin": random.Random(f"app-{version}").randbytes(1024)})
        return build_image(layout, f"app-{version}", layers=[base, top], cmd=["/app/run.sh"],
                           labels={"org.opencontainers.image.version": version})

    images["app-1.0"], targets["app-1.0"] = app("1.0"), ("sample/app", "1.0")
    images["app-1.1"], targets["app-1.1"] = app("1.1"), ("sample/app", "1.1")
    images["tool-2.0"] = build_index(layout, "tool-2.0", base=base)
    targets["tool-2.0"] = ("sample/tool", "2.0")
    images["web-stable"] = build_index(layout, "web-stable", docker=True, base=base,
                                       platforms=("linux/amd64", "linux/arm64/v8"))
    targets["web-stable"] = ("sample/web", "stable")
    images["db-15"] = build_image(layout, "db-15", docker=True,
                                  layers=[base, {"var/lib/db/VERSION": "15\n"}])
    targets["db-15"] = ("sample/db", "15")
    return SampleSet(layout, images, targets)


# -- exporting and seeding (never through the engine under test) -----------------------------------

def _read_blob(layout: OCILayout, digest: str) -> bytes:
    return layout.blob_path(digest).read_bytes()


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(".tmp-" + dst.name)
        with open(src, "rb") as a, open(tmp, "wb") as b:
            for chunk in iter(lambda: a.read(_CHUNK), b""):
                b.write(chunk)
        os.replace(tmp, dst)


def export_dir(image: Image, path: os.PathLike | str) -> Path:
    """Write ``image`` as a skopeo ``dir:`` directory at ``path`` (blobs hard-linked).

    Layout (containers/image ``dir`` transport 1.1): ``manifest.json`` (the top manifest or
    list), ``<hex>.manifest.json`` for each list member, blobs named by bare hex, ``version``.
    Needed for Docker media types: the ``oci:`` transport of skopeo 1.9 only sees OCI-typed
    ``index.json`` entries.
    """
    if any(child.is_index for child in image.children):
        raise ValueError(f"{image.ref or image.digest}: skopeo's dir: transport cannot hold a nested index")
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    layout = image.layout
    _link(layout.blob_path(image.digest), target / "manifest.json")
    for child in image.children:
        _link(layout.blob_path(child.digest), target / f"{child.digest.split(':', 1)[1]}.manifest.json")
    for member in image.manifests():
        blobs = ([member.config] if member.config else []) + list(member.layers)
        for blob in blobs:
            _link(layout.blob_path(blob.digest), target / blob.digest.split(":", 1)[1])
    (target / "version").write_text("Directory Transport Version: 1.1\n")
    return target


def push_http(image: Image, registry, repository: str, tag: str | None = None) -> str:
    """Push ``image`` with plain HTTP requests (monolithic blob uploads, then manifests, members
    first). For what skopeo 1.9 cannot copy (a nested index). Returns the pushed reference."""
    for member in reversed(image.manifests()):
        blobs = ([member.config] if member.config else []) + list(member.layers)
        for blob in blobs:
            _push_blob(registry, repository, image.layout, blob)
        reference = tag if (member is image and tag) else member.digest
        status, _headers, body = registry.request(
            "PUT", f"/v2/{repository}/manifests/{reference}", data=_read_blob(image.layout, member.digest),
            headers={"Content-Type": member.media_type})
        if status != 201:
            raise RuntimeError(f"PUT manifest {repository}:{reference} -> HTTP {status}: {body[:500]!r}")
    return f"{registry.host}/{repository}" + (f":{tag}" if tag else f"@{image.digest}")


def _push_blob(registry, repository: str, layout: OCILayout, blob: Descriptor) -> None:
    if registry.request("HEAD", f"/v2/{repository}/blobs/{blob.digest}")[0] == 200:
        return
    status, headers, body = registry.request("POST", f"/v2/{repository}/blobs/uploads/")
    if status != 202:
        raise RuntimeError(f"POST upload {repository} -> HTTP {status}: {body[:500]!r}")
    location = urllib.parse.urljoin(registry.url, headers["Location"])
    location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": blob.digest})
    with open(layout.blob_path(blob.digest), "rb") as handle:
        status, _headers, body = registry.request(
            "PUT", location, data=handle,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)})
    if status != 201:
        raise RuntimeError(f"PUT blob {blob.digest} to {repository} -> HTTP {status}: {body[:500]!r}")


def skopeo_source(image: Image) -> str:
    """The skopeo source reference for ``image``: ``oci:LAYOUT:REF`` for OCI media types,
    ``dir:EXPORT`` (made next to the layout, ``<layout>.dir/<ref>``) for Docker media types."""
    if image.media_type in (OCI_MANIFEST, OCI_INDEX):
        return image.oci_ref
    if image.ref is None:
        raise ValueError(f"{image.digest} is an index member without a ref name; use its parent")
    export = Path(str(image.layout.path) + ".dir") / image.ref.replace("/", "_").replace(":", "_")
    return f"dir:{export_dir(image, export)}"


def seed_registry(image: Image, registry, repository: str, tag: str | None = None, **skopeo_options) -> str:
    """Put ``image`` (all platforms, digests preserved) into ``registry`` with an independent client.

    Runs ``skopeo copy --all --preserve-digests <source> docker://HOST/REPO[:TAG]`` with the
    registry's TLS and credentials; ``<source>`` is from :func:`skopeo_source`. A nested index,
    which skopeo 1.9 refuses ("Unexpectedly received a manifest list instead of a manifest for a
    single image"), is pushed by :func:`push_http` instead. Without ``tag`` skopeo pushes by
    digest. Extra keyword arguments go to :func:`support.skopeo.copy`. Returns ``HOST/REPO:TAG``
    (or ``HOST/REPO@DIGEST``).
    """
    from . import skopeo

    if any(child.is_index for child in image.children):
        return push_http(image, registry, repository, tag)
    target = f"{registry.host}/{repository}" + (f":{tag}" if tag else f"@{image.digest}")
    skopeo.copy(skopeo_source(image), f"docker://{target}", dest_registry=registry, **skopeo_options)
    return target
