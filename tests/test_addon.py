"""The Home Assistant add-on's files against the add-on configuration rules, its options as the server's flags,
and its registration with the Supervisor (the add-on image itself is run by script/container-test)."""

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import REPO, free_port
from tests.web_client import WebPage, spoken_recording, start_web
from wyoming_streamtts import __version__, addon
from wyoming_streamtts.cli import build_parser

ADDON = REPO / "addon"
ARCHES = {"armhf", "armv7", "aarch64", "amd64", "i386"}
_SCHEMA = re.compile(r"(?P<kind>bool|int|float|str|email|url|password|port|match|list)(?P<optional>\??)"
                     r"(?:\((?P<argument>.*)\))?(?P<optional2>\??)")  # fmt: skip


def config() -> dict:
    return yaml.safe_load((ADDON / "config.yaml").read_text())


def test_the_repository_and_the_addon_have_what_home_assistant_reads():
    repository = yaml.safe_load((REPO / "repository.yaml").read_text())
    assert {"name", "url", "maintainer"} <= set(repository)
    addon_config = config()
    for key in ("name", "version", "slug", "description", "arch"):
        assert addon_config.get(key), key
    assert re.fullmatch(r"[a-z0-9_]+", addon_config["slug"])
    assert addon_config["version"] == __version__
    assert set(addon_config["arch"]) == {"amd64", "aarch64"} and set(addon_config["arch"]) <= ARCHES
    assert "{arch}" in addon_config["image"]
    assert addon_config["discovery"] == ["wyoming"]
    assert addon_config["init"] is False  # the image has no s6 overlay
    assert {"type": "share", "read_only": False} in addon_config["map"]
    assert addon_config["ingress"] is True and addon_config["ingress_port"] == addon.HTTP_PORT
    assert addon_config["ports"] == {"10200/tcp": None, "8099/tcp": None}  # listed, not published
    assert addon_config["watchdog"] == "tcp://[HOST]:[PORT:10200]"
    build = yaml.safe_load((ADDON / "build.yaml").read_text())
    assert set(build["build_from"]) == set(addon_config["arch"])
    for name in ("DOCS.md", "CHANGELOG.md", "icon.png", "logo.png", "Dockerfile"):
        assert (ADDON / name).is_file(), name
    assert (ADDON / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _agrees(schema: str | list, value: object) -> bool:
    if isinstance(schema, list):
        return isinstance(value, list) and all(_agrees(schema[0], item) for item in value)
    match = _SCHEMA.fullmatch(schema)
    assert match, schema
    kind, argument = match["kind"], match["argument"]
    if kind == "list":
        return value in argument.split("|")
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "float"):
        low, _, high = (argument or ",").partition(",")
        number = isinstance(value, int | float) and not isinstance(value, bool) and (kind == "float" or
                                                                                    isinstance(value, int))  # fmt: skip
        return number and (not low or value >= float(low)) and (not high or value <= float(high))
    return isinstance(value, str)


def test_every_option_has_a_schema_that_agrees_a_flag_and_a_translation():
    addon_config = config()
    options, schema = addon_config["options"], addon_config["schema"]
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())["configuration"]
    assert set(options) == set(schema) == set(addon.OPTIONS) == set(translations)
    for name, option in addon.OPTIONS.items():
        assert options[name] == option.default, name
        assert _agrees(schema[name], option.default), (name, schema[name])
        expected = option.schema.removesuffix("]").removeprefix("[")
        assert (schema[name] == [expected]) if option.schema.startswith("[") else schema[name] == expected, name
        assert translations[name]["name"] and translations[name]["description"], name
    # The default options make a command line the server takes.
    build_parser().parse_args(addon.flags_for(options))


def test_options_become_flags_in_one_place():
    flags = addon.flags_for({"engine": "piper", "fallback": "gtts, piper,espeak", "local_only": True,
                             "piper_voices": ["de_DE-thorsten-medium", "en_US-lessac-medium"], "speed": 1.25,
                             "translation": True, "translation_model": "/share/nllb", "source_language": "de",
                             "log_level": "warning", "xtts_device": "cpu", "xtts_precision": "int8"})  # fmt: skip
    args = build_parser().parse_args(flags)
    assert (args.engine, args.fallback) == ("piper", ("piper", "espeak"))  # local_only: no gtts
    assert args.download_piper_voice == ["de_DE-thorsten-medium", "en_US-lessac-medium"]
    translation = (args.translator, args.nllb_model, args.source_language, args.download)
    assert translation == ("ctranslate2", "/share/nllb", "de", True)
    assert (args.speed, args.log_level, args.device, args.xtts_precision) == (1.25, "warning", "cpu", "int8")
    assert (args.uri, str(args.data_dir), str(args.voices_dir), str(args.piper_voices)) == (
        "tcp://0.0.0.0:10200",
        "/data",
        "/share/wyoming-streamtts/voices",
        "/share/piper",
    )
    assert (args.http_port, args.http_host, args.http_trusted_peer) == (8099, "0.0.0.0", ["172.30.32.2"])
    off = build_parser().parse_args(addon.flags_for({"translation": False, "fallback": ""}))
    assert off.translator == "none" and off.fallback == ()


@pytest.mark.parametrize(("options", "says"), [
    ({"engine": "gtts", "local_only": True}, "local_only forbids"),
    ({"translation": True}, "translation needs translation_model"),
    ({"fallback": "piper,festival"}, "unknown engines: festival"),
    ({"piper_voices": ["lessac"]}, "no Piper voice name"),
])  # fmt: skip
def test_options_that_cannot_run_end_in_one_line(tmp_path, options, says):
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    env = {"STREAMTTS_ADDON_OPTIONS": str(path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "wyoming_streamtts.addon"], capture_output=True, text=True,
                            env=env, timeout=60)  # fmt: skip
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_registration_waits_for_describe_then_posts_with_the_token(start_server, tmp_path, monkeypatch):
    records = tmp_path / "discovery.jsonl"
    port = free_port()
    supervisor = subprocess.Popen([sys.executable, "-m", "tests.fake_supervisor", str(port), "tok", str(records)],
                                  cwd=REPO)  # fmt: skip
    try:
        monkeypatch.setattr(addon, "PORT", free_port())
        done: list[bool] = []
        thread = threading.Thread(target=lambda: done.append(addon.register("tok", f"http://127.0.0.1:{port}", 60)))
        thread.start()
        thread.join(1.5)
        assert thread.is_alive() and not records.exists()  # nothing answers describe yet: nothing posted
        start_server("--uri", f"tcp://127.0.0.1:{addon.PORT}", "--engine", "espeak", ready=False)  # its own port
        thread.join(30)
        assert done == [True]
        entry = json.loads(records.read_text())
        assert entry["token_ok"] and entry["body"]["service"] == "wyoming"
        assert entry["body"]["config"]["uri"].endswith(f":{addon.PORT}")
    finally:
        supervisor.terminate()


def test_home_assistants_ingress_needs_no_token_where_a_direct_visitor_does(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--http-host", "0.0.0.0", "--http-trusted-peer", "127.0.0.1")
    page = WebPage(server, port)  # from 127.0.0.1: the trusted proxy's address here
    assert page.add_cloned(spoken_recording(tmp_path / "speech.wav"), "ingress").status_code == 202
    host = next(address for address in _addresses() if not address.startswith("127."))
    direct = requests.post(f"http://{host}:{port}/api/cloned", headers={"X-CSRF-Token": page.csrf}, timeout=10,
                           files={"audio": ("a.wav", b"x")}, data={"name": "direct"})  # fmt: skip
    assert direct.status_code == 401


def _addresses() -> list[str]:
    output = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3].split("/")[0] for line in output.splitlines()]


def test_docs_say_what_an_aarch64_box_gets_and_what_is_out_of_scope():
    docs = (ADDON / "DOCS.md").read_text()
    assert "aarch64" in docs and "GPU" in docs and "/share/piper" in docs and "ingress" in docs.lower()
    assert Path(REPO / "script" / "build-aarch64").is_file()
