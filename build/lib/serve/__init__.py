"""The Synthos gRPC service: `ValidationEngine` and `CollapseEngine` (proto package
`synthos.v1`, contract in proto/synthos/v1/) over the library, with mTLS, persistent cascade
jobs and a client.

    synthos-serve gen-certs certs/
    synthos-serve --config serve.yaml          # or: python -m serve --config serve.yaml
    synthos-remote --ca certs/ca.pem --cert certs/client.pem --key certs/client.key \\
        analyze-diversity /data/train.parquet

The server uses the library only; Hydra runs inside the cascade subprocesses, never in the
server process.
"""
