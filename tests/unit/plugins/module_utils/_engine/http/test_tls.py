import os
import shutil
import ssl
import subprocess
import sys

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http import tls as R
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import TLSError


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
    code = ("import sys\nfrom ansible_collections.airgap.mirror.plugins.module_utils._engine.http import tls as R\n"
            "try:\n    R.build_ssl_context('r.example', ca_path=sys.argv[1], certs_dirs=())\n"
            "except Exception as exc:\n    print(exc)\n")
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
