from ansible_collections.airgap.mirror.plugins.module_utils._backends.argspec import (client_pool, merge_spec,
                                                                                      registry_argument_spec)


def test_secrets_are_no_log():
    spec = registry_argument_spec()["argument_spec"]
    assert spec["src_password"]["no_log"] and spec["dest_password"]["no_log"]


def test_merge_spec_adds_a_modules_options_and_rules():
    merged = merge_spec(registry_argument_spec(), {"argument_spec": {"x": {"type": "str"}},
                                                   "required_together": [["x", "y"]], "supports_check_mode": True})
    assert "x" in merged["argument_spec"] and "src_username" in merged["argument_spec"]
    assert merged["required_together"][-1] == ["x", "y"] and len(merged["required_together"]) == 4
    assert merged["supports_check_mode"] is True


def test_client_pool_gives_explicit_credentials_to_the_named_registries():
    params = {"src_username": "s", "src_password": "sp", "dest_username": "d", "dest_password": "dp",
              "insecure_registries": ["Mirror:5000"], "timeout": 5, "retries": 2, "deadline": None}
    pool = client_pool(params, ["quay.io"], "mirror:5000", max_connections=4, upload_chunk_size=1 << 20)
    try:
        options = pool.options
        assert options.insecure_registries == {"mirror:5000"} and options.timeout == 5 and options.retries == 2
        assert options.max_connections == 4
        assert (options.chunked_threshold, options.upload_chunk_size) == (1 << 20, 1 << 20)
        assert options.credentials is not None
        explicit = options.credentials.explicit
        assert explicit["quay.io"].username == "s" and explicit["mirror:5000"].password == "dp"
    finally:
        pool.close()
