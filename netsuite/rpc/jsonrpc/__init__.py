"""JSON-RPC as Go's net/rpc/jsonrpc speaks it: the stream codec, the server and the client."""
