# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Image references: parse, normalize, render.

Follows the grammar of distribution/reference (the one docker, podman, skopeo and CRI-O share):

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [domain "/"] path

A first path component is a registry domain when it contains "." or ":", is "localhost", or has an
upper-case letter; otherwise the reference is on Docker Hub, whose canonical name is "docker.io" and
whose single-component repositories live under "library/". Tag and digest may both be present; the
digest then decides what is pulled and the tag is kept as a name.
"""

from __future__ import annotations

import re

from .errors import InvalidReference

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
OFFICIAL_NAMESPACE = "library"
NAME_TOTAL_MAX = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    r"^(?:%s(?:\.%s)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT)
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_ANY_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}


def validate_digest(digest: object, what: str = "digest") -> str:
    """Return *digest* if it is a sha256 or sha512 digest in canonical (lower-case) form."""
    if isinstance(digest, str) and _DIGEST.match(digest):
        return digest
    if isinstance(digest, str):
        algorithm, sep, hexpart = digest.partition(":")
        want = _DIGEST_HEX_LENGTHS.get(algorithm)
        if sep and want is not None:
            if not re.match(r"^[0-9a-fA-F]*$", hexpart):
                raise ValueError("%s %r: a %s digest is %d hex digits (0-9, a-f)" % (what, digest, algorithm, want))
            if len(hexpart) != want:
                raise ValueError("%s %r: %s digest must have %d hex digits, got %d"
                                 % (what, digest, algorithm, want, len(hexpart)))
            raise ValueError("%s %r: %s digest must be lower-case hex" % (what, digest, algorithm))
        if _ANY_DIGEST.match(digest):
            raise ValueError(
                "%s %r: only sha256 and sha512 digests in lower-case hex are supported" % (what, digest)
            )
    raise ValueError("%s %r is not of the form sha256:<64 hex digits>" % (what, digest))


_DIGEST_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+._-]*):([0-9A-Za-z]*)$")
_KNOWN_ALGORITHMS = ("sha256", "sha384", "sha512", "blake3", "sha1", "md5")
CREDENTIALS_REASON = ("a reference cannot hold credentials (user[:password]@ before the registry host; the part "
                      "before '@' is not shown) and an '@' can only introduce a digest; give registry credentials "
                      "as the module's username and password options or in an auth file")
REDACTED = "<redacted>"


def _is_digest_like(text: str) -> bool:
    """Whether *text* (what follows an '@') is meant as a digest, well-formed or not."""
    match = _DIGEST_LIKE.match(text)
    return match is not None and (match.group(1).lower() in _KNOWN_ALGORITHMS or len(match.group(2)) >= 32)


def split_credentials(text: object) -> tuple[str | None, str]:
    """``(userinfo, redacted)`` when *text* holds ``user[:password]@`` credentials before a registry
    host (``user:pw@host/app``, ``user@registry.example.com:5000``, ``https://user:pw@host``),
    else ``(None, text)``. *redacted* is *text* with the credentials replaced by ``<redacted>``,
    safe to show; *userinfo* is what must never be shown.

    An '@' followed by something digest-shaped (``@sha256:…``, also malformed) is a digest. Any other
    '@' is credentials when what follows it looks like a host (has a '/', '.' or ':', or is
    ``localhost``) or when what precedes it is ``user:password`` in the first component; an '@' in a
    path followed by a word (``quay.io/org/app@latest``) stays a malformed digest."""
    if not isinstance(text, str):
        return None, str(text)
    value = text.strip()
    head, sep, tail = value.rpartition("@")
    digest_part = ""
    if sep and _is_digest_like(tail):
        value, digest_part = head, "@" + tail
    userinfo, sep, rest = value.rpartition("@")
    if not sep:
        return None, text
    first = rest.split("/", 1)[0]
    if "/" in rest or (first and _is_domain_like(first)) or (":" in userinfo and "/" not in userinfo):
        scheme = ""
        if "://" in userinfo:
            scheme, _sep, userinfo = userinfo.partition("://")
            scheme += "://"
        return userinfo, "%s%s@%s%s" % (scheme, REDACTED, rest, digest_part)
    return None, text


def secrets_of(userinfo: str) -> list[str]:
    """The strings to keep out of any output for *userinfo* (``user:password`` -> the password and
    the whole; a single value, which may be a token, -> itself)."""
    _user, sep, password = userinfo.partition(":")
    return [v for v in ([password, userinfo] if sep and password else [userinfo]) if v]


def _check_port(text: str, host: str) -> None:
    """Refuse a registry port outside 1-65535 (the grammar alone takes any digits)."""
    if host.startswith("["):
        rest = host.partition("]")[2]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        port = host.rpartition(":")[2] if ":" in host else ""
    if port and not 1 <= int(port) <= 65535:
        raise InvalidReference(text, "port %s of registry host %r is outside 1-65535" % (port, host))


def validate_tag(tag: object) -> str:
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise ValueError(
            "tag %r must be 1 to 128 characters of letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'" % (tag,)
        )
    return tag


def _is_domain_like(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component.lower() != component


def normalize_registry(registry: str) -> str:
    """Canonical registry name: Docker Hub aliases become docker.io, the name is lower-cased."""
    reg = registry.lower()
    if reg in DOCKER_HUB_ALIASES:
        return DEFAULT_REGISTRY
    return reg


def registry_endpoint(registry: str) -> str:
    """host[:port] that serves the registry API for a canonical registry name."""
    if registry == DEFAULT_REGISTRY:
        return DOCKER_HUB_ENDPOINT
    return registry


class Reference:
    """A normalized image reference. Immutable; compare and hash by its string form."""

    __slots__ = ("registry", "repository", "tag", "digest")

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    def __init__(self, registry: str, repository: str, tag: str | None = None, digest: str | None = None) -> None:
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "digest", digest)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Reference is immutable")

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return "%s/%s" % (self.registry, self.repository)

    @property
    def path(self) -> str:
        """The repository path under the registry (alias of ``repository``)."""
        return self.repository

    @property
    def endpoint(self) -> str:
        return registry_endpoint(self.registry)

    @property
    def identifier(self) -> str | None:
        """What to ask the registry for: the digest if known, else the tag."""
        return self.digest or self.tag

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, validate_tag(tag), self.digest)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, validate_digest(digest))

    def without_digest(self) -> Reference:
        return Reference(self.registry, self.repository, self.tag, None)

    def without_tag(self) -> Reference:
        return Reference(self.registry, self.repository, None, self.digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def __repr__(self) -> str:
        return "Reference(%r)" % str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse(text: object, default_tag: str | None = None) -> Reference:
    """Parse and normalize an image reference.

    ``nginx`` becomes ``docker.io/library/nginx``; a reference with neither tag nor digest gets
    *default_tag* (``None`` keeps it bare, ``"latest"`` is what docker does).
    Raises :class:`InvalidReference` naming the reference and the reason.
    """
    if not isinstance(text, str):
        raise InvalidReference(text, "a reference must be a string, not %s" % type(text).__name__)
    ref = text.strip()
    if not ref:
        raise InvalidReference(text, "empty reference")
    userinfo, redacted = split_credentials(ref)
    if userinfo is not None:
        raise InvalidReference(redacted, CREDENTIALS_REASON)
    if any(c.isspace() for c in ref):
        raise InvalidReference(text, "contains white space")
    if "://" in ref:
        raise InvalidReference(
            text, "a reference has no scheme; remove %r" % (ref.split("://", 1)[0] + "://")
        )

    digest = None
    if "@" in ref:
        ref, digest = ref.rsplit("@", 1)
        try:
            validate_digest(digest)
        except ValueError as exc:
            raise InvalidReference(text, str(exc)) from None

    tag = None
    last_slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > last_slash:
        ref, tag = ref[:colon], ref[colon + 1:]
        try:
            validate_tag(tag)
        except ValueError as exc:
            raise InvalidReference(text, str(exc)) from None

    if not ref:
        raise InvalidReference(text, "missing repository name")
    first, sep, rest = ref.partition("/")
    if sep and _is_domain_like(first):
        registry, path = first, rest
        if not _DOMAIN.match(registry):
            raise InvalidReference(text, "invalid registry host %r" % registry)
        _check_port(text, registry)
        registry = normalize_registry(registry)
    else:
        registry, path = DEFAULT_REGISTRY, ref

    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = OFFICIAL_NAMESPACE + "/" + path

    for component in path.split("/"):
        if not component:
            raise InvalidReference(text, "empty path component")
        if component.lower() != component:
            raise InvalidReference(text, "repository name must be lower-case")
        if not _PATH_COMPONENT.match(component):
            raise InvalidReference(
                text,
                "invalid repository path component %r (lower-case letters and digits, "
                "separated by '.', '_', '__' or dashes)" % component,
            )
    if len(registry) + 1 + len(path) > NAME_TOTAL_MAX:
        raise InvalidReference(text, "repository name longer than %d characters" % NAME_TOTAL_MAX)

    if tag is None and digest is None and default_tag:
        tag = default_tag
    return Reference(registry, path, tag, digest)


def parse_registry_prefix(text: object) -> tuple[str, str]:
    """Parse a destination ``HOST[:PORT][/NAMESPACE]`` into ``(registry, namespace)``.

    The first component is always taken as the registry host, even without a dot: a mirror is
    never Docker Hub by accident. ``namespace`` is ``""`` when absent.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference(text, "empty registry")
    value = text.strip().rstrip("/")
    userinfo, redacted = split_credentials(value)
    if userinfo is not None:
        raise InvalidReference(redacted, CREDENTIALS_REASON)
    if "://" in value:
        raise InvalidReference(text, "give the registry as HOST[:PORT][/NAMESPACE], without a scheme")
    if "@" in value:
        head, _sep, tail = value.rpartition("@")
        if not _is_digest_like(tail):  # an '@' that is neither a digest nor recognisable credentials
            raise InvalidReference("%s@%s" % (REDACTED, tail), CREDENTIALS_REASON)
        raise InvalidReference(text, "a registry prefix cannot hold a digest")
    host, _sep, namespace = value.partition("/")
    if not _DOMAIN.match(host):
        raise InvalidReference(text, "invalid registry host %r" % host)
    _check_port(text, host)
    if ":" in namespace:
        raise InvalidReference(text, "a registry prefix cannot hold a tag")
    for component in namespace.split("/") if namespace else ():
        if not _PATH_COMPONENT.match(component):
            raise InvalidReference(text, "invalid namespace component %r" % component)
    return normalize_registry(host), namespace


def split_registry_port(registry: str) -> tuple[str, int | None]:
    """('host', port or None) for a registry name, IPv6 aware."""
    if registry.startswith("["):
        host, _sep, rest = registry.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return host + "]", int(port) if port else None
    if ":" in registry:
        host, port = registry.rsplit(":", 1)
        return host, int(port)
    return registry, None
