"""twistd plugins for netsuite's services (imports stay lazy: no reactor here)."""

from twisted.application.service import ServiceMaker


class _ServiceMaker(ServiceMaker):
    """A ServiceMaker whose options end twistd with a one-line error on bad usage."""

    @property
    def options(self):
        from netsuite._twistd import one_line_options

        return one_line_options(ServiceMaker.options.fget(self), self.tapname)


chat = _ServiceMaker(
    "netsuite chat", "netsuite.chat._tap", "TCP chat server with nicknames and heartbeats", "chat"
)
udpecho = _ServiceMaker(
    "netsuite udpecho", "netsuite.udpecho._tap", "UDP echo server that cannot amplify", "udpecho"
)
tcplog = _ServiceMaker(
    "netsuite tcplog", "netsuite.tcplog._tap", "TCP server logging the lines clients send", "tcplog"
)
rpc = _ServiceMaker(
    "netsuite rpc",
    "netsuite.rpc._tap",
    "Algorithm.Sum and Programmer.GetSkill over XML-RPC, AMP, JSON-RPC, Go gob and gRPC",
    "rpc",
)
