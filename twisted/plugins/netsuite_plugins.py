"""twistd plugins for netsuite's services (imports stay lazy: no reactor here)."""

from twisted.application.service import ServiceMaker

chat = ServiceMaker(
    "netsuite chat", "netsuite.chat._tap", "TCP chat server with nicknames and heartbeats", "chat"
)
udpecho = ServiceMaker(
    "netsuite udpecho", "netsuite.udpecho._tap", "UDP echo server that cannot amplify", "udpecho"
)
tcplog = ServiceMaker(
    "netsuite tcplog", "netsuite.tcplog._tap", "TCP server logging the lines clients send", "tcplog"
)
rpc = ServiceMaker(
    "netsuite rpc",
    "netsuite.rpc._tap",
    "Algorithm.Sum and Programmer.GetSkill over XML-RPC, AMP, JSON-RPC, Go gob and gRPC",
    "rpc",
)
