"""``deepthinker-nb image build|info``: the kernel image of the Docker backend."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("image", help="build or describe the Docker kernel image")
    sub = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build the kernel image (skipped when its tag exists)")
    build.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    base = build.add_mutually_exclusive_group()
    base.add_argument("--offline", dest="offline", action="store_const", const=True,
                      help="Debian bookworm via mmdebstrap (no registry needed)")
    base.add_argument("--registry", dest="offline", action="store_const", const=False,
                      help="python:3.11-slim from a registry")
    build.set_defaults(func=_build)
    info = sub.add_parser("info", help="tag, digest and package versions of the kernel image")
    info.add_argument("--image", default=None, help="image to describe (default: current tag)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)


def _build(args: argparse.Namespace) -> int:
    from deepthinker_nb.kernel.docker.image import build_image

    result = build_image(force=args.force, offline=args.offline)
    print(f"{result.tag} ({result.method}, {result.seconds:.1f} s) {result.image_id}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from deepthinker_nb.kernel.docker.image import image_info, image_tag

    info = image_info(args.image)
    if args.json:
        print(json.dumps(asdict(info), indent=1))
        return 0
    current = image_tag()
    print(f"tag:     {info.tag}" + ("" if info.recipe is None or info.tag == current
                                     else f"  (recipe now {current}: rebuild)"))
    print(f"id:      {info.image_id}")
    print(f"digest:  {info.digest}")
    print(f"recipe:  {info.recipe}   base: {info.base}   size: {info.size_mb} MB")
    print(f"created: {info.created}")
    for name, version in info.packages.items():
        print(f"  {name:<15} {version}")
    return 0
