"""The committed generated code matches the proto files."""

from __future__ import annotations

from serve import protogen


def test_generated_code_matches_the_proto_files(tmp_path):
    fresh = protogen.generate(tmp_path)
    assert {"common_pb2.py", "validation_engine_pb2_grpc.py", "collapse_engine_pb2_grpc.py"} <= set(
        fresh
    )
    assert protogen.stale_files() == [], "run scripts/gen_proto.sh and commit serve/generated/"


def test_generated_imports_do_not_shadow_the_library():
    from serve.generated import validation_engine_pb2

    assert validation_engine_pb2.DESCRIPTOR.name == "synthos/v1/validation_engine.proto"
    text = (protogen.GENERATED_DIR / "validation_engine_pb2_grpc.py").read_text()
    assert "from synthos.v1" not in text and "from serve.generated import" in text
