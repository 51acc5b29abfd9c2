"""Train one model: `python train.py [overrides]` (the same as `python -m synthos.train` and
`synthos-train`). Configs: synthos/conf/train.yaml; see README.md."""

from synthos.train import main

if __name__ == "__main__":
    main()
