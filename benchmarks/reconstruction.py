"""Wall 1 study: which latent shape, injection, backbone, regulariser weight and vocabulary reconstruct Yelp best per minute.

Each variant changes one thing in trainers/configs/regularizer_study.toml (d256, 2+2 layers,
one 128-dim code from mean pooling, z in the decoder memory and added to its embeddings, MMD
weight 10, vocabulary 8192, 1000 steps of batch 128) and trains on the Yelp pool, exactly as the
regulariser study does; "mmd" is that study's Yelp run (shared, not trained twice). Every run is
scored by the whole evaluation suite on the same 1000 Yelp dev sentences (never trained on).

    python benchmarks/reconstruction.py                                # every variant, ~8 minutes each
    python benchmarks/reconstruction.py --variants mmd code-1x256 memory-only
    python benchmarks/reconstruction.py --report-only                  # the table from finished runs

Writes benchmarks/results/reconstruction.{json,md,png}; the last line printed is
``reconstruction_best=yelp:<variant>`` (the best greedy exact match).
"""

from __future__ import annotations

import argparse
import sys

from common import RESULTS
from regularizers import add_study_options, check_corpora, check_study_args, report_results, study_run

VARIANTS = {
    "mmd": [],
    "code-1x64": ["model.latent_dim=64"],
    "code-1x256": ["model.latent_dim=256"],
    "code-4x32-mean": ["model.latent_tokens=4", "model.latent_dim=32"],
    "code-4x32-attention": ["model.latent_tokens=4", "model.latent_dim=32", "model.pooling=attention"],
    "memory-only": ["model.inject_embeddings=false"],
    "layers-3+3": ["model.encoder_layers=3", "model.decoder_layers=3"],
    "mmd-weight-1": ["model.mmd_weight=1.0"],
    "vocab-4096": ["data.vocab_size=4096"],
}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    add_study_options(ap, RESULTS / "reconstruction.json")
    args = ap.parse_args(argv)
    check_study_args(ap, args)
    args.corpora = ["yelp"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_corpora(args)
    if not args.corpora:
        return 0
    results = [r for name in args.variants if (r := study_run("yelp", name, VARIANTS[name], args))]
    return report_results(results, args, "Reconstruction study (wall 1)", "python benchmarks/reconstruction.py",
                          "reconstruction_best")


if __name__ == "__main__":
    sys.exit(main())
