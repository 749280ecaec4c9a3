"""Sanity check of the content judges on real EmoSet-mini images (docs/protocols.md, "Content accuracy").

For every held-out test image of the mini zoo's dataset, the content is its annotated object. Prints the
top-1 and top-5 accuracy over the zoo's content list (``emobench.spec.tracks.zoo_contents``) of
* CLIP (what ``clip-a`` uses): "a photo of a {content}" texts against the image, and
* the zoo's object judge (the Sem-C object head), for comparison,
with chance levels. Usage: ``python scripts/content_judge_check.py [--zoo mini] [--limit N]``.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from emobench.metrics.content_accuracy import TEXT_TEMPLATE
from emobench.spec.tracks import zoo_contents
from emobench.zoo.load import load_zoo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoo", default="mini")
    ap.add_argument("--limit", type=int, default=None, help="test images to use (default: all)")
    args = ap.parse_args()
    zoo = load_zoo(args.zoo, with_pipeline=False)
    contents = list(zoo_contents(zoo))
    samples = [s for s in zoo.dataset.split("test") if s.objects][: args.limit]
    target = torch.tensor([contents.index(s.objects[0].replace("_", " ")) for s in samples])
    size = int(zoo.sampling.height)
    with torch.no_grad():
        txt = F.normalize(zoo.clip.encode_texts([TEXT_TEMPLATE.format(c) for c in contents]).double(), dim=-1)
        clip_scores, obj_scores = [], []
        for start in range(0, len(samples), 256):
            images = zoo.dataset.load_images(samples[start:start + 256], size=size)
            clip_scores.append(F.normalize(zoo.clip.encode_images(images).double(), dim=-1) @ txt.T)
            judge = zoo.judges.object
            order = [list(judge.labels).index(c.replace(" ", "_")) for c in contents]
            obj_scores.append(judge(images).double()[:, order])
    for name, scores in (("CLIP (clip-a)", torch.cat(clip_scores)), ("object judge", torch.cat(obj_scores))):
        for k in (1, 5):
            hit = (scores.topk(k, dim=1).indices == target[:, None]).any(1).double().mean().item()
            print(f"{name:>14}  top-{k}: {hit:.3f}  (chance {k / len(contents):.3f}, n={len(samples)})")


if __name__ == "__main__":
    main()
