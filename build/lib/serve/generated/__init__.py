"""Generated gRPC code of the synthos.v1 contract (see serve/protogen.py)."""
