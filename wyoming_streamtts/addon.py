"""`python -m wyoming_streamtts.addon`: the server as a Home Assistant add-on.

The add-on's options (`/data/options.json`, written by the Supervisor from the add-on's page) become the
server's flags here, in one table; the fixed ones place everything where an add-on keeps it. Once the server
answers `describe`, it is registered with the Supervisor, which makes Home Assistant show it as discovered.
"""

import asyncio
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __main__ as server
from .health import check
from .settings import ENGINES

_LOGGER = logging.getLogger(__name__)

OPTIONS_FILE = Path("/data/options.json")
SUPERVISOR = "http://supervisor"
INGRESS_PEER = "172.30.32.2"  # the Supervisor's ingress proxy: Home Assistant has authenticated its users
PORT, HTTP_PORT = 10200, 8099
FIXED_FLAGS = [
    "--uri", f"tcp://0.0.0.0:{PORT}", "--data-dir", "/data", "--voices-dir", "/share/wyoming-streamtts/voices",
    "--piper-voices", "/share/piper", "--http-port", str(HTTP_PORT), "--http-host", "0.0.0.0",
    "--http-trusted-peer", INGRESS_PEER,
]  # fmt: skip
_PIPER_VOICE = re.compile(r"[a-z]{2,3}_[A-Z]{2}-[\w]+-[a-z_]+")
_DISCOVERY_WAIT_S = 900.0  # a first start downloads voices and models before it answers


class OptionsError(ValueError):
    """Options that cannot be run, said in one line a user understands."""


@dataclass(frozen=True)
class Option:
    """One add-on option: its default, its schema in config.yaml, and the flags a value becomes."""

    default: Any
    schema: str
    flags: Callable[[Any], list[str]]


def _engine(value: str) -> list[str]:
    return ["--engine", value]


def _fallback(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if unknown := [name for name in names if name not in ENGINES]:
        raise OptionsError(f"fallback names unknown engines: {', '.join(unknown)} (known: {', '.join(ENGINES)})")
    return ["--fallback", ",".join(names) or "none"]


def _piper_voices(value: list[str]) -> list[str]:
    flags = []
    for name in value:
        if not _PIPER_VOICE.fullmatch(name):
            raise OptionsError(f"piper_voices: {name!r} is no Piper voice name (such as en_US-lessac-medium)")
        flags += ["--download-piper-voice", name]
    return flags


OPTIONS: dict[str, Option] = {
    "engine": Option("auto", "list(auto|xtts|gtts|piper|espeak)", _engine),
    "fallback": Option("gtts,piper,espeak", "str", _fallback),
    "local_only": Option(False, "bool", lambda _value: []),  # applied to engine and fallback: see flags_for
    "piper_voices": Option(["en_US-lessac-medium"], "[str]", _piper_voices),
    "translation": Option(False, "bool", lambda on: ["--translator", "ctranslate2", "--download"] if on else []),
    "translation_model": Option("", "str?", lambda model: ["--nllb-model", model] if model else []),
    "source_language": Option("en", "str", lambda language: ["--source-language", language]),
    "xtts_precision": Option("auto", "list(auto|fp32|int8|fp16|bf16)", lambda value: ["--xtts-precision", value]),
    "xtts_device": Option("auto", "list(auto|cpu)", lambda value: ["--device", value]),
    "speed": Option(1.0, "float(0.25,4)", lambda value: ["--speed", f"{float(value):g}"]),
    "log_level": Option("info", "list(debug|info|warning|error)", lambda value: ["--log-level", value]),
}


def flags_for(options: dict[str, Any]) -> list[str]:
    """The server's flags for these options (raises OptionsError)."""
    values = {name: options.get(name, option.default) for name, option in OPTIONS.items()}
    if unknown := sorted(set(options) - set(OPTIONS)):
        _LOGGER.warning("Unknown add-on options ignored: %s", ", ".join(unknown))
    if values["local_only"]:
        # Never send text to Google: gTTS is left out, and asking for it is a contradiction said at once.
        if values["engine"] == "gtts":
            raise OptionsError("engine gtts sends the text to Google, which local_only forbids: choose another engine")
        values["fallback"] = ",".join(name for name in values["fallback"].split(",") if name.strip() != "gtts")
    if values["translation"] and not values["translation_model"]:
        raise OptionsError("translation needs translation_model: a CTranslate2 NLLB model (a folder in /share, or "
                           "a model id), as DOCS.md says")  # fmt: skip
    flags = list(FIXED_FLAGS)
    for name, option in OPTIONS.items():
        flags += option.flags(values[name])
    return flags


def read_options(path: Path) -> dict[str, Any]:
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise OptionsError(f"cannot read the add-on's options {path}: {err}") from err
    if not isinstance(options, dict):
        raise OptionsError(f"the add-on's options {path} are not a JSON object")
    return options


def register(token: str, supervisor: str = SUPERVISOR, wait_s: float = _DISCOVERY_WAIT_S) -> bool:
    """Once the server answers `describe`, tell the Supervisor where it is: Home Assistant then shows it as
    discovered (as the Piper add-on is)."""
    deadline = time.monotonic() + wait_s
    while (problem := asyncio.run(check(f"tcp://127.0.0.1:{PORT}", 2.0))) is not None:
        if time.monotonic() > deadline:
            _LOGGER.error("Not registered with Home Assistant: the server did not answer describe (%s)", problem)
            return False
        time.sleep(0.5)
    body = json.dumps({"service": "wyoming", "config": {"uri": f"tcp://{socket.gethostname()}:{PORT}"}}).encode()
    request = urllib.request.Request(f"{supervisor}/discovery", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except OSError as err:
        _LOGGER.error("Discovery message to Home Assistant failed: %s", err)
        return False
    _LOGGER.info("Registered with Home Assistant as tcp://%s:%d", socket.gethostname(), PORT)
    return True


def run() -> None:
    try:
        flags = flags_for(read_options(Path(os.environ.get("STREAMTTS_ADDON_OPTIONS", OPTIONS_FILE))))
    except OptionsError as err:
        logging.basicConfig(format="%(levelname)s: %(message)s")
        _LOGGER.error("The add-on's options cannot be used: %s", err)
        sys.exit(1)
    for folder in ("/share/wyoming-streamtts/voices", "/share/piper"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    print("wyoming-streamtts " + " ".join(flags), flush=True)  # the add-on's log says what runs
    if token := os.environ.get("SUPERVISOR_TOKEN"):
        threading.Thread(target=register, args=(token,), name="discovery", daemon=True).start()
    server.run(flags)


if __name__ == "__main__":
    run()
