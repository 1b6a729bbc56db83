"""Zeroconf: Home Assistant finds the server as `_wyoming._tcp.local.`."""

import logging
import socket
from urllib.parse import urlparse

from wyoming.zeroconf import MDNS_TARGET_IP
from zeroconf import DNSQuestionType
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}
SERVICE_TYPE = "_wyoming._tcp.local."
NAME_CHECK_MS = 3000  # how long another service's answer to our name is waited for (it may hold back a second)


class Discovery:
    """The announcement Home Assistant looks for, and its goodbye on shutdown.

    The service is the one wyoming's HomeAssistantZeroconf announces; it is made with
    zeroconf here because wyoming's keeps its zeroconf instance private and cannot withdraw it.
    """

    def __init__(self, port: int, name: str, host: str) -> None:
        self.port = port
        self.name = name
        self.host = host
        self._zeroconf = AsyncZeroconf()

    async def register_server(self) -> None:
        # A second box with the same name (the default one, a copied config) takes a unique one. zeroconf's
        # own probing sees a conflict only if it has heard the other's announcement (else the second box died
        # with NonUniqueNameException, or announced the same name): ask whether anyone answers to the name.
        given, number = self.name, 2
        while await self._answered(given):
            given, number = f"{self.name}-{number}", number + 1
        info = AsyncServiceInfo(
            SERVICE_TYPE, f"{given}.{SERVICE_TYPE}", addresses=[socket.inet_aton(self.host)], port=self.port
        )
        await self._zeroconf.async_register_service(info, allow_name_change=True)  # two starting at once
        given = info.name.removesuffix(f".{SERVICE_TYPE}")
        if given != self.name:
            _LOGGER.warning(
                "Another service on this network is announced as %s: this one is announced as %s. Give each "
                "server its own --name or --zeroconf NAME, so that Home Assistant tells them apart",
                self.name, given,
            )  # fmt: skip
            self.name = given

    async def _answered(self, name: str) -> bool:
        """Whether another service answers to `name` (its SRV record is enough: it holds the name)."""
        other = AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}")
        # Answers by multicast: a unicast answer to port 5353 reaches only one of the sockets on this
        # machine that share it (another server's, a browser's), so half the time not ours.
        await other.async_request(self._zeroconf.zeroconf, NAME_CHECK_MS, question_type=DNSQuestionType.QM)
        return other.port is not None

    async def unregister_server(self) -> None:
        await self._zeroconf.async_unregister_all_services()
        await self._zeroconf.async_close()
        _LOGGER.info("Zeroconf service %s withdrawn", self.name)


def multicast_problem() -> str | None:
    """Why announcements to the mDNS group cannot leave this machine, or None when they can.

    Connecting a UDP socket sends nothing; it fails as zeroconf's own sends would
    (e.g. `Network is unreachable` on a loopback without a multicast route).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((MDNS_TARGET_IP, 5353))
        except OSError as err:
            return f"no route to the mDNS group {MDNS_TARGET_IP} ({err.strerror or err})"
    return None


def create_discovery(uri: str, name: str, host: str | None) -> Discovery:
    """The announcement for a tcp:// URI (raises ValueError if it cannot be made)."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or parsed.port is None:
        raise ValueError("--zeroconf needs a tcp:// --uri")
    if host is None:
        host = parsed.hostname if parsed.hostname and parsed.hostname not in _ANY_ADDRESS else _mdns_source_address()
    return Discovery(port=parsed.port, name=name, host=host)


def _mdns_source_address() -> str:
    """The address this machine sends to the mDNS group from (no packet is sent).

    Announcing 0.0.0.0, as a server bound to it might, is useless to Home Assistant.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((MDNS_TARGET_IP, 5353))
            address = probe.getsockname()[0]
        except OSError as err:
            raise ValueError(f"Cannot find this machine's address for zeroconf ({err}); pass --zeroconf-host") from err
    if address in _ANY_ADDRESS:
        raise ValueError("This machine has no address to announce by zeroconf; pass --zeroconf-host")
    return address


def default_name() -> str:
    return f"streamtts-{socket.gethostname()}"
