from ansible_collections.airgap.mirror.plugins.module_utils._engine.http import errors as R
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import redact_url


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


def test_redact_url():
    assert redact_url("https://user:pw@r.example/v2/x/blobs/uploads/abc?_state=SECRET&digest=x") == \
        "https://r.example/v2/x/blobs/uploads/abc"
