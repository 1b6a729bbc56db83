"""`python -m wyoming_streamtts.health`: a real describe round-trip, for Docker's HEALTHCHECK.

Exit 0 when the server answers `describe` with a TTS program that has voices.
`--uri-of PID` asks the server running as that process at the address its own
`--uri` gives (0.0.0.0 and :: as loopback): a container run with another port is
checked there, not at 10200.
"""

import argparse
import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info


async def check(uri: str, timeout: float) -> str | None:
    """None when healthy, else what is wrong."""
    try:
        async with asyncio.timeout(timeout):
            async with AsyncClient.from_uri(uri) as client:
                await client.write_event(Describe().event())
                while (event := await client.read_event()) is not None:
                    if Info.is_type(event.type):
                        programs = Info.from_event(event).tts
                        if programs and programs[0].voices:
                            return None
                        return "the server lists no TTS voices"
                return "the server closed the connection without answering"
    except TimeoutError:
        return f"no answer to describe within {timeout} s"
    except OSError as err:
        return f"cannot connect: {err}"


def uri_of(pid: int, default: str) -> str:
    """Where the server running as `pid` listens, from its command line (the last --uri wins, as in argparse)."""
    words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    uri = default
    for index, word in enumerate(words):
        if word == "--uri" and index + 1 < len(words):
            uri = words[index + 1]
        elif word.startswith("--uri="):
            uri = word.removeprefix("--uri=")
    parts = urlsplit(uri)
    if parts.scheme == "tcp" and parts.hostname in ("0.0.0.0", "::", ""):
        return f"tcp://127.0.0.1:{parts.port}"
    return uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wyoming_streamtts.health", description=__doc__)
    parser.add_argument("--uri", default="tcp://127.0.0.1:10200", help="server to check (default: %(default)s)")
    parser.add_argument(
        "--uri-of",
        type=int,
        metavar="PID",
        help="check the server running as this process, at its own --uri (--uri: if it gives none)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default: %(default)s)")
    args = parser.parse_args(argv)
    uri = args.uri
    if args.uri_of is not None:
        try:
            uri = uri_of(args.uri_of, args.uri)
        except OSError as err:
            print(f"unhealthy: no process {args.uri_of} ({err.strerror})", file=sys.stderr)
            return 1
    problem = asyncio.run(check(uri, args.timeout))
    if problem is None:
        print("healthy")
        return 0
    print(f"unhealthy: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
