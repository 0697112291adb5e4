"""_consumers/file_server: the nginx instance of airgap.mirror.file_server."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import file_server as F


def test_defaults_serve_https_only_from_the_current_release():
    lay = F.layout({})
    p = lay["paths"]
    assert p["conf"] == "/etc/airgap-mirror/file-server/files/nginx.conf"
    assert p["root"] == "/var/lib/airgap-mirror/file-server/files/current/tree"
    assert p["pid"] == "/run/airgap-file-server-files.pid"
    assert lay["unit_name"] == "airgap-file-server-files.service"
    assert lay["dirs"] == ["/etc/airgap-mirror/file-server/files", "/var/lib/airgap-mirror/file-server/files/releases",
                           "/var/lib/airgap-mirror/file-server/files/temp", "/var/log/airgap-mirror/file-server/files"]
    conf = lay["conf_text"]
    assert "listen 8443 ssl;" in conf and "ssl_certificate_key /etc/airgap-mirror/file-server/files/tls.key;" in conf
    assert conf.count("server {") == 1 and "autoindex off;" in conf
    assert "root /var/lib/airgap-mirror/file-server/files/current/tree;" in conf
    assert "location = /.airgap-mirror/release {" in conf
    assert "alias /var/lib/airgap-mirror/file-server/files/current/release;" in conf
    # its own pid file, logs and temporary directories; of /etc/nginx only mime.types
    assert "pid /run/airgap-file-server-files.pid;" in conf
    assert "client_body_temp_path /var/lib/airgap-mirror/file-server/files/temp/client_body;" in conf
    assert [line for line in conf.splitlines() if "/etc/nginx" in line] == ["    include /etc/nginx/mime.types;"]
    assert conf.count("{") == conf.count("}")
    assert lay["health_url"] == "https://127.0.0.1:8443/.airgap-mirror/release"
    assert lay["tls"] and lay["http_port"] == 0


def test_commands_and_unit_name_the_instance_files():
    lay = F.layout({"name": "lookaside", "http_port": 8080, "https_port": 0})
    p = lay["paths"]
    base = ["/usr/sbin/nginx", "-e", p["error_log"], "-c", p["conf"]]
    running = lay["argv"].pop("running")
    assert lay["argv"] == {"start": base, "reload": base + ["-s", "reload"], "quit": base + ["-s", "quit"],
                           "test": ["/usr/sbin/nginx", "-t", "-q"] + base[1:]}
    assert running[:2] == ["sh", "-c"] and running[3:] == ["sh", p["pid"], p["conf"]]
    assert lay["validate"] == "/usr/sbin/nginx -t -q -e %s -c %%s" % p["error_log"]
    unit = lay["unit_text"]
    assert "PIDFile=/run/airgap-file-server-lookaside.pid" in unit
    assert "ExecReload=" + " ".join(base + ["-s", "reload"]) in unit
    assert "ExecStartPre=" + " ".join(lay["argv"]["test"]) in unit
    assert "ssl" not in lay["conf_text"] and "listen 8080;" in lay["conf_text"]
    assert lay["health_url"] == "http://127.0.0.1:8080/.airgap-mirror/release"
    assert not lay["tls"]


def test_both_ports_a_bind_address_and_names():
    lay = F.layout({"https_port": 443, "http_port": 80, "bind_address": "10.0.0.5",
                    "server_names": ["files.example.com"], "autoindex": True})
    conf = lay["conf_text"]
    assert "listen 10.0.0.5:443 ssl;" in conf and "listen 10.0.0.5:80;" in conf
    assert conf.count("server_name files.example.com;") == 2 and conf.count("autoindex on;") == 2
    assert lay["health_url"] == "https://10.0.0.5:443/.airgap-mirror/release"
    v6 = F.layout({"bind_address": "::"})
    assert "listen [::]:8443 ssl;" in v6["conf_text"] and v6["health_url"].startswith("https://[::1]:8443/")


@pytest.mark.parametrize("values, message", [
    ({"name": "-x"}, "file_server_name"),
    ({"name": "a b"}, "file_server_name"),
    ({"https_port": 0, "http_port": 0}, "nothing would be served"),
    ({"https_port": 8080, "http_port": 8080}, "both 8080"),
    ({"https_port": 70000}, "file_server_https_port: 70000"),
    ({"http_port": "x"}, "file_server_http_port: 'x' is not a TCP port"),
    ({"bind_address": "files.example.com"}, "file_server_bind_address"),
    ({"data_dir": "relative"}, "file_server_data_dir: 'relative' is not an absolute path"),
    ({"config_dir": "/etc/with space"}, "file_server_config_dir"),
    ({"log_dir": "/var/log/x;y"}, "file_server_log_dir"),
    ({"data_dir": "/var/../etc"}, "without '..'"),
    ({"server_names": ["a;b"]}, "file_server_server_names"),
    ({"workers": "many"}, "file_server_workers"),
    ({"workers": "0"}, "a number above 0"),
    ({"colour": "red"}, "unknown file server settings: colour"),
])
def test_bad_settings_name_the_variable(values, message):
    with pytest.raises(F.FileServerError, match=message.replace("(", r"\(")):
        F.layout(values)


def test_release_directories():
    lay = F.layout({})
    assert F.release_dir(lay, "0123456789abcdef") == "/var/lib/airgap-mirror/file-server/files/releases/0123456789abcdef"
    with pytest.raises(F.FileServerError, match="not a release name"):
        F.release_dir(lay, "../../etc")


def test_running_is_a_live_master_of_this_configuration(tmp_path):
    """The running check (a shell script) against real processes: this configuration's, another's, none."""
    import subprocess
    import sys
    conf = str(tmp_path / "nginx.conf")
    pid = tmp_path / "pid"
    lay = F.layout({"run_dir": str(tmp_path), "config_dir": str(tmp_path)})
    cmd = lay["argv"]["running"][:3] + ["sh", str(pid), conf]
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-c", conf])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert subprocess.run(cmd, check=False).returncode != 0  # no pid file
        pid.write_text("%d\n" % ours.pid)
        assert subprocess.run(cmd, check=False).returncode == 0
        pid.write_text("%d\n" % other.pid)  # a stale number now used by another process
        assert subprocess.run(cmd, check=False).returncode != 0
    finally:
        ours.kill()
        other.kill()
        ours.wait()
        other.wait()
    pid.write_text("%d\n" % ours.pid)  # gone
    assert subprocess.run(cmd, check=False).returncode != 0
