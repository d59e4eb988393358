"""``netsuite schema proto|go``: the printed .proto is the book's netsuite.proto for the book's
methods, compiles with protoc and describes what gRPC serves; the Go structs build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsuite.rpc import SERVICE, Registry
from netsuite.rpc._schema import go_source, proto_source
from netsuite.rpc.grpc._descriptors import build_schema
from tests.rpc.wiremethods import REGISTRY, Point

PROTO = Path(__file__).parents[2] / "netsuite" / "rpc" / "netsuite.proto"
NETSUITE = str(Path(sys.executable).with_name("netsuite"))
GO = shutil.which("go")


def statements(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("//")]


def test_book_methods_print_exactly_the_shipped_proto() -> None:
    assert statements(proto_source(SERVICE)) == statements(PROTO.read_text())


def compile_proto(tmp_path: Path, text: str):
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    (tmp_path / "netsuite.proto").write_text(text)
    out = tmp_path / "set.pb"
    code = protoc.main(["protoc", f"-I{tmp_path}", f"--descriptor_set_out={out}",
                        "netsuite.proto"])
    assert code == 0, text
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return files.file[0]


def shape(file) -> dict:
    """Every message's fields and every service's methods, as protoc and we both say."""
    messages = {}
    for m in file.message_type:
        messages[m.name] = [(f.name, f.number, f.type, f.label, f.type_name, f.proto3_optional)
                            for f in m.field]
        for nested in m.nested_type:
            messages[f"{m.name}.{nested.name}"] = [(f.name, f.number, f.type, f.type_name)
                                                   for f in nested.field]
    services = {s.name: [(r.name, r.input_type, r.output_type) for r in s.method]
                for s in file.service}
    return {"messages": messages, "services": services}


def test_printed_proto_compiles_to_the_descriptors_grpc_serves(tmp_path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) compiles the proto")
    compiled = compile_proto(tmp_path, proto_source(REGISTRY))
    assert shape(compiled) == shape(build_schema(REGISTRY).file)
    assert "Item" in shape(compiled)["messages"]


def test_nesting_protobuf_cannot_say_directly_gets_wrappers(tmp_path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) compiles the proto")
    registry = Registry()

    @registry.method("Grid.Cells")
    def cells(rows: list[list[int]], names: dict[str, list[str]], maybe: list[int] | None,
              holes: list[Point | None], tags: dict[str, dict[str, float]],
              limit: int = 3) -> list[list[Point]]:
        return []

    text = proto_source(registry)
    compiled = compile_proto(tmp_path, text)
    messages = shape(compiled)["messages"]
    assert {"Int64List", "StringList", "OptionalPoint", "DoubleMap", "PointList"} <= set(messages)
    assert "optional int64 limit = 6;" in text
    assert shape(compiled) == shape(build_schema(registry).file)


def test_two_structs_with_one_name_are_refused() -> None:
    from dataclasses import make_dataclass

    other = make_dataclass("Point", [("z", int)])
    registry = Registry()
    registry.register("A.B", [("p", Point)], int, "")(lambda p: 0)
    registry.register("A.C", [("p", other)], int, "")(lambda p: 0)
    with pytest.raises(TypeError, match="two different structs are named Point"):
        build_schema(registry)


def test_same_method_name_in_two_services_gets_the_service_prefix() -> None:
    registry = Registry()
    registry.register("Geo.Move", [("x", int)], int, "")(lambda x: x)
    registry.register("Chess.Move", [("x", str)], str, "")(lambda x: x)
    names = {m.name for m in build_schema(registry).file.message_type}
    assert {"GeoMoveRequest", "ChessMoveRequest", "GeoMoveReply", "ChessMoveReply"} <= names


def test_go_source_names_and_types() -> None:
    text = go_source(REGISTRY)
    assert "type Args struct {\n\tX int64\n\tY int64\n}" in text
    assert "type MoveArgs struct {\n\tP  Point\n\tBy []int64\n}" in text
    assert "\tNote  *string\n" in text  # Item.note: str | None
    assert "\tMeta  map[string]int64\n" in text
    assert "\tBlob  []byte\n" in text
    assert text.count("type Point struct") == 1


@pytest.mark.skipif(GO is None, reason="Go is not installed (apt-get install golang-go)")
def test_go_source_builds_and_vets(tmp_path) -> None:
    (tmp_path / "go.mod").write_text("module schema\n\ngo 1.19\n")
    (tmp_path / "schema.go").write_text(go_source(REGISTRY))
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "HOME": str(tmp_path),
           "GOCACHE": os.environ.get("NETSUITE_GOCACHE", str(tmp_path / "cache")),
           "CGO_ENABLED": "0"}
    for command in (["build", "./..."], ["vet", "./..."]):
        done = subprocess.run([GO, *command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stderr


def test_console_script() -> None:
    book = subprocess.run([NETSUITE, "schema", "proto"], capture_output=True, text=True,
                          timeout=60)
    assert book.returncode == 0 and statements(book.stdout) == statements(PROTO.read_text())
    rich = subprocess.run([NETSUITE, "schema", "go", "--service", "tests.rpc.wireservice"],
                          capture_output=True, text=True, timeout=60)
    assert rich.returncode == 0 and "type TotalArgs struct" in rich.stdout
    missing = subprocess.run([NETSUITE, "schema", "proto", "--service", "no.such.module"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "no.such.module" in missing.stderr
