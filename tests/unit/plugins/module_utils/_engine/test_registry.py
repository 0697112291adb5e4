import email.utils
import os
import shutil
import ssl
import subprocess
import sys
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine import chunked as C
from ansible_collections.airgap.mirror.plugins.module_utils._engine import registry as R
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import TLSError, redact_url


def test_retry_after_seconds_and_dates():
    assert R.parse_retry_after("7") == 7.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < R.parse_retry_after(future) <= 31
    assert R.parse_retry_after("garbage") is None and R.parse_retry_after(None) is None


def test_backoff_is_bounded_and_retry_after_capped():
    policy = R.RetryPolicy(attempts=5, base=0.5, cap=4.0, max_retry_after=10)
    for attempt in range(8):
        assert 0 <= policy.delay(attempt) <= 4.0
    assert policy.delay(0, retry_after=3) == 3
    assert policy.delay(0, retry_after=999) == 10


def test_range_end():
    assert C.range_end("0-1023") == 1023
    assert C.range_end("bytes=0-9") == 9
    assert C.range_end(None) == -1


def test_exact_offset_refuses_the_ambiguous_answer():
    """distribution answers ``0-0`` for an empty session and after one byte: not an offset."""
    assert C.exact_offset("0-0") is None
    assert C.exact_offset(None) is None and C.exact_offset("garbage") is None
    assert C.exact_offset("0-1") == 2
    assert C.exact_offset("0-67108863") == 64 * 1024 * 1024


def test_every_error_entry_is_read_and_described():
    import httpx

    body = {"errors": [
        {"code": "DIGEST_INVALID", "message": "provided digest did not match uploaded content",
         "detail": {"Digest": "sha256:ab", "Reason": {}}},
        {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:" + "c" * 64},
        "not an entry", {"message": "no code"},
    ]}
    entries = R.error_entries(httpx.Response(400, json=body))
    assert entries == [("DIGEST_INVALID", "provided digest did not match uploaded content", None),
                       ("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", "sha256:" + "c" * 64)]
    assert R.describe_errors(entries) == ("DIGEST_INVALID: provided digest did not match uploaded content; "
                                          "MANIFEST_BLOB_UNKNOWN: blob unknown to registry (sha256:%s)" % ("c" * 64))
    assert R.error_entries(httpx.Response(502, text="<html>bad gateway</html>")) == []
    assert R.error_entries(httpx.Response(400, json={"errors": "x"})) == []
    assert len(R.error_entries(httpx.Response(400, json={"errors": [{"code": "X"}] * 100}))) == R.MAX_ERROR_ENTRIES


def test_take_exact_length():
    out = b"".join(R._take([b"abc", b"defg", b"h"], 5))
    assert out == b"abcde"
    with pytest.raises(R._SourceError):
        b"".join(R._take([b"ab"], 5))


def test_ssl_context_uses_system_trust_and_ca_path(tmp_path):
    ctx = R.build_ssl_context("r.example", certs_dirs=())
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0, "the system trust store must be loaded"
    with pytest.raises(TLSError, match="is a directory without a"):
        R.build_ssl_context("r.example", ca_path=str(tmp_path), certs_dirs=())
    insecure = R.build_ssl_context("r.example", insecure=True, certs_dirs=())
    assert insecure.verify_mode == ssl.CERT_NONE


def test_ca_path_problems_are_told_apart(tmp_path):
    missing = tmp_path / "nope" / "ca.crt"
    with pytest.raises(TLSError, match=r"ca_path %s does not exist" % missing):
        R.build_ssl_context("r.example", ca_path=str(missing), certs_dirs=())
    dangling = tmp_path / "link.crt"
    dangling.symlink_to(tmp_path / "gone.crt")
    with pytest.raises(TLSError, match=r"is a symbolic link to .*gone.crt, which does not exist"):
        R.build_ssl_context("r.example", ca_path=str(dangling), certs_dirs=())
    fifo = tmp_path / "fifo.crt"
    os.mkfifo(fifo)
    with pytest.raises(TLSError, match=r"is not a regular file or a directory"):
        R.build_ssl_context("r.example", ca_path=str(fifo), certs_dirs=())
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSError, match=r"cannot load CA certificate .*garbage.pem"):
        R.build_ssl_context("r.example", ca_path=str(garbage), certs_dirs=())


def _ssl_context_error_as_ordinary_reader(path):
    """``build_ssl_context(ca_path=path)`` in a process that file permissions apply to: as root, one without the
    capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). Returns its stdout."""
    code = ("import sys\nfrom ansible_collections.airgap.mirror.plugins.module_utils._engine import registry as R\n"
            "try:\n    R.build_ssl_context('r.example', ca_path=sys.argv[1], certs_dirs=())\nexcept Exception as exc:\n    print(exc)\n")
    argv = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.fail("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE to test permissions")
        drop = "-dac_override,-dac_read_search"
        argv = ["setpriv", "--inh-caps=" + drop, "--bounding-set=" + drop] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_unreadable_ca_path(tmp_path):
    cert = tmp_path / "ca.crt"
    cert.write_text("x")
    cert.chmod(0)
    assert "ca_path %s is not readable" % cert in _ssl_context_error_as_ordinary_reader(cert)
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "ca.crt").write_text("x")
    directory.chmod(0)
    try:
        assert "ca_path %s: cannot read the directory: Permission denied" % directory in \
            _ssl_context_error_as_ordinary_reader(directory)
    finally:
        directory.chmod(0o755)


def test_redact_url():
    assert redact_url("https://user:pw@r.example/v2/x/blobs/uploads/abc?_state=SECRET&digest=x") == \
        "https://r.example/v2/x/blobs/uploads/abc"


def test_deadline():
    assert R.Deadline().remaining() is None
    deadline = R.Deadline(0.001)
    time.sleep(0.005)
    with pytest.raises(Exception, match="deadline"):
        deadline.check("x")
