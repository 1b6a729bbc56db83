"""`python -m wyoming_streamtts.health`: a real describe round-trip, for Docker's HEALTHCHECK.

Exit 0 when the server answers `describe` with a TTS program that has voices.
"""

import argparse
import asyncio
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wyoming_streamtts.health", description=__doc__)
    parser.add_argument("--uri", default="tcp://127.0.0.1:10200", help="server to check (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default: %(default)s)")
    args = parser.parse_args(argv)
    problem = asyncio.run(check(args.uri, args.timeout))
    if problem is None:
        print("healthy")
        return 0
    print(f"unhealthy: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
