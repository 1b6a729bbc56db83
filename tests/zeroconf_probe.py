"""Run inside the test's network namespace: find a Wyoming service by zeroconf, as Home
Assistant does, speak `describe` to it, then report when it is withdrawn.

Prints `FOUND {json}` once resolved and described, then `REMOVED` on the goodbye.
"""

import asyncio
import json
import sys

from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE = "_wyoming._tcp.local."


async def main(name: str, timeout: float) -> int:
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    events: asyncio.Queue = asyncio.Queue()

    def on_change(zeroconf, service_type, name, state_change):  # noqa: ARG001 - zeroconf's signature
        events.put_nowait((name, state_change))

    browser = AsyncServiceBrowser(aiozc.zeroconf, SERVICE, handlers=[on_change])
    full_name = f"{name}.{SERVICE}"
    try:
        async with asyncio.timeout(timeout):
            while (await events.get()) != (full_name, ServiceStateChange.Added):
                pass
            info = AsyncServiceInfo(SERVICE, full_name)
            assert await info.async_request(aiozc.zeroconf, 3000), "service did not resolve"
            address = info.parsed_addresses()[0]
            async with AsyncTcpClient(address, info.port) as client:
                await client.write_event(Describe().event())
                described = Info.from_event(await client.read_event())
            print("FOUND", json.dumps({"address": address, "port": info.port,
                                       "program": described.tts[0].name}), flush=True)  # fmt: skip
            while (await events.get()) != (full_name, ServiceStateChange.Removed):
                pass
            print("REMOVED", flush=True)
    finally:
        await browser.async_cancel()
        await aiozc.async_close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], float(sys.argv[2]))))
