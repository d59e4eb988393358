"""AMP: the commands, the server protocol and the client."""
