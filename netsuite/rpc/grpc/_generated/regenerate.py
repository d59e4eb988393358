"""Regenerate netsuite_pb2*.py here from ../../netsuite.proto with grpcio-tools.

    .venv/bin/python netsuite/rpc/grpc/_generated/regenerate.py

The generated modules check their runtime: netsuite_pb2 needs protobuf >= the version printed
in its header (same major), netsuite_pb2_grpc needs grpcio >= GRPC_GENERATED_VERSION; the
`grpc` extra in setup.cfg pins both to match.  Regenerate (and update those pins) whenever
netsuite.proto changes; tests/rpc/grpc/test_protocol.py checks the committed code is current.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "netsuite.proto"
REL = Path("netsuite/rpc/grpc/_generated")
OUTPUTS = ("netsuite_pb2.py", "netsuite_pb2.pyi", "netsuite_pb2_grpc.py")


def generate(out_dir: Path) -> None:
    """Write the generated modules into ``out_dir``."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        (tree / REL).mkdir(parents=True)
        # Compiled at its package path, so the generated imports are package-absolute.
        shutil.copy(PROTO, tree / REL / "netsuite.proto")
        code = protoc.main(["protoc", f"-I{tree}", f"--python_out={tree}",
                            f"--pyi_out={tree}", f"--grpc_python_out={tree}",
                            str(REL / "netsuite.proto")])
        if code != 0:
            raise SystemExit(f"protoc failed with status {code}")
        for name in OUTPUTS:
            shutil.copy(tree / REL / name, out_dir / name)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
