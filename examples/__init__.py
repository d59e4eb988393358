"""Example services for ``twistd -n rpc --service examples.MODULE``."""
