"""HTTP to the public internet only: the address a webhook connection actually reached is
checked, not just what the host name resolved to a moment before.

A check of the resolved addresses before the POST leaves a window: a host name whose DNS
answers a public address to the check and 10.0.0.5 or 127.0.0.1 to the connection a
millisecond later (DNS rebinding, short TTLs) would make the worker POST into this machine
or its private network. Here every new connection's peer address is checked once the socket
is connected, so whatever DNS answered, nothing is sent to a private or local address.

No proxy from the environment is used for these requests: through a proxy the peer would
be the proxy, and the check could not see where the request really goes.
"""

import ipaddress

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError


class PrivatePeerError(NewConnectionError):
    """The connection reached an address that is not on the public internet."""


def is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_global


class _CheckedPeer:
    # Host names (as written in the URL) that may reach this machine: test and debug only.
    local_hosts: frozenset[str] = frozenset()

    def _new_conn(self):
        sock = super()._new_conn()
        address = sock.getpeername()[0]
        if not is_public(address) and self.host not in self.local_hosts:
            sock.close()
            raise PrivatePeerError(self, "the host's address is not a public one")
        return sock


def _adapter(local_hosts: frozenset[str]) -> HTTPAdapter:
    http = type("CheckedHTTPConnection", (_CheckedPeer, HTTPConnection), {})
    https = type("CheckedHTTPSConnection", (_CheckedPeer, HTTPSConnection), {})
    http.local_hosts = https.local_hosts = local_hosts
    pools = {
        "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    return Adapter()


def public_session(local_hosts=()) -> requests.Session:
    """A requests session that only talks to public addresses (and, for tests and debug,
    to the host names in `local_hosts`, e.g. "localhost"), ignoring proxy variables."""
    session = requests.Session()
    session.trust_env = False
    adapter = _adapter(frozenset(local_hosts))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def private_peer(error: requests.RequestException) -> bool:
    """`error` is requests' wrapping of a `PrivatePeerError`."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, PrivatePeerError)
