"""Run inside the test's network namespace: find a Wyoming service by zeroconf, as Home
Assistant does, speak `describe` to it, then report when it is withdrawn.

Prints `FOUND {json}` once resolved and described, `STREAMING` once a streaming request
it then opens is being spoken, `REMOVED` on the goodbye, and after that finishes the
stream and prints `FINISHED {json}`: whether an error came, and the types of the two events that ended it.
"""

import asyncio
import json
import sys

from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop
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
            async with AsyncTcpClient(address, info.port) as streaming:
                await streaming.write_event(SynthesizeStart().event())
                await streaming.write_event(SynthesizeChunk(text="Spoken while the server stops. ").event())
                assert (await streaming.read_event()).type == "audio-start"
                print("STREAMING", flush=True)
                while (await events.get()) != (full_name, ServiceStateChange.Removed):
                    pass
                print("REMOVED", flush=True)
                await streaming.write_event(SynthesizeChunk(text="And the end of it.").event())
                await streaming.write_event(SynthesizeStop().event())
                types = []
                while (event := await streaming.read_event()) is not None:
                    types.append(event.type)
                    if event.type == "synthesize-stopped":
                        break
            print("FINISHED", json.dumps({"error": "error" in types, "end": types[-2:]}), flush=True)
    finally:
        await browser.async_cancel()
        await aiozc.async_close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], float(sys.argv[2]))))
