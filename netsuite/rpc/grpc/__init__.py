"""gRPC: the server on grpcio and the client."""
