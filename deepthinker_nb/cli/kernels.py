"""``deepthinker-nb kernels``: list and install the deepthinker kernelspecs."""

from __future__ import annotations

import argparse
import re

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.specs import deepthinker_kernel_specs, install_kernel_specs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("kernels", help="list or install the deepthinker kernelspecs")
    sub = parser.add_subparsers(dest="kernels_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="our kernelspecs and where Jupyter finds them").set_defaults(
        func=_list
    )
    install = sub.add_parser("install", help="install the kernelspecs for Jupyter tools")
    where = install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="into ~/.local/share/jupyter")
    where.add_argument("--sys-prefix", action="store_true",
                       help="into this environment (the default)")
    where.add_argument("--prefix", help="into PREFIX/share/jupyter/kernels")
    install.add_argument("--name", action="append", type=kernelspec_name,
                         help="only this kernelspec (repeatable)")
    install.set_defaults(func=_install)


_KERNELSPEC_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
"""What Jupyter accepts as a kernelspec name (jupyter_client's own rule)."""


def kernelspec_name(value: str) -> str:
    """argparse type: a kernelspec name (letters, digits, ``-``, ``.``, ``_``)."""
    if not _KERNELSPEC_NAME.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a kernelspec name (letters, digits, '-', '.', '_' only); see "
            "deepthinker-nb kernels list")
    return value


def _list(args: argparse.Namespace) -> int:
    installed = KernelSpecManager().find_kernel_specs()
    for name, spec in sorted(deepthinker_kernel_specs().items()):
        where = installed.get(name, "not installed (run: deepthinker-nb kernels install)")
        print(f"{name:22} {spec['display_name']:40} {where}")
    return 0


def _install(args: argparse.Namespace) -> int:
    try:
        paths = install_kernel_specs(user=args.user, prefix=args.prefix, names=args.name)
    except NoSuchKernel as exc:
        known = ", ".join(sorted(deepthinker_kernel_specs()))
        raise DeepThinkerError(f"--name: unknown kernelspec {exc.name!r}; ours are {known} "
                               "(see: deepthinker-nb kernels list)") from None
    except PermissionError as exc:
        raise DeepThinkerError(f"cannot write kernelspec ({exc}); try --user")
    for name, path in paths.items():
        print(f"installed {name} in {path}")
    return 0
