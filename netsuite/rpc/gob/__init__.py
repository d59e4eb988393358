"""Go net/rpc over gob: the codec, the server (raw and over HTTP CONNECT) and the client."""
