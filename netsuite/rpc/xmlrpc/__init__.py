"""XML-RPC over HTTP: the codec, the pure answer function, the web resource and the client."""
