"""Constant folding of string expressions, including the decoders payloads hide behind.

Folding is what lets the scanner read ``getattr(os, "sys" + "tem")``, ``"".join(map(chr, ...))``
or ``exec(base64.b64decode("..."))``. It never executes cell code: it interprets a small, pure
subset of expressions on constants, with size caps so a crafted cell cannot exhaust memory.
"""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import lzma
import posixpath
import string
import zlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from . import hostpaths

_CONSTANTS = (str, bytes, int, float)  # foldable literals (and None)
MAX_VALUE = 1 << 20  # chars / bytes / items a folded value may hold
_MAX_REDUCE = 4096  # items functools.reduce is folded over
_MAX_INT = 1 << 64


class Folded(NamedTuple):
    """A folded constant; ``encoded`` is True when a decoder took part in producing it."""

    value: Any
    encoded: bool = False


class _Fail(Exception):
    """Not foldable (or too big); folding returns None."""


def _check(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray, list, tuple)) and len(value) > MAX_VALUE:
        raise _Fail
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_INT:
        raise _Fail
    return value


def _bounded_decompress(data: bytes, kind: str) -> bytes:
    if kind == "zlib":
        obj = zlib.decompressobj()
    elif kind == "gzip":
        obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif kind == "bz2":
        obj = bz2.BZ2Decompressor()
        out = obj.decompress(data, max_length=MAX_VALUE + 1)
        return _check(out)
    elif kind == "lzma":
        obj = lzma.LZMADecompressor()
        out = obj.decompress(data, max_length=MAX_VALUE + 1)
        return _check(out)
    else:  # pragma: no cover - callers pass known kinds
        raise _Fail
    out = obj.decompress(data, MAX_VALUE + 1)
    return _check(out)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1", "strict") if value.isascii() else value.encode()
    raise _Fail


_B64 = {
    "b64decode": base64.b64decode,
    "standard_b64decode": base64.standard_b64decode,
    "urlsafe_b64decode": base64.urlsafe_b64decode,
    "b32decode": base64.b32decode,
    "b32hexdecode": getattr(base64, "b32hexdecode", base64.b32decode),
    "b16decode": lambda s: base64.b16decode(s, casefold=True),
    "b85decode": base64.b85decode,
    "a85decode": base64.a85decode,
    "decodebytes": base64.decodebytes,
    "decodestring": base64.decodebytes,
}
_BINASCII = {
    "unhexlify": binascii.unhexlify,
    "a2b_hex": binascii.a2b_hex,
    "a2b_base64": binascii.a2b_base64,
    "a2b_uu": binascii.a2b_uu,
}
_DECOMPRESS = {
    "zlib.decompress": "zlib",
    "gzip.decompress": "gzip",
    "bz2.decompress": "bz2",
    "lzma.decompress": "lzma",
}
_CODECS_TEXT = {"rot13", "rot_13", "rot-13"}
_CODECS_BYTES = {
    "hex": binascii.unhexlify, "hex_codec": binascii.unhexlify,
    "base64": base64.b64decode, "base_64": base64.b64decode, "base64_codec": base64.b64decode,
    "zlib": lambda b: _bounded_decompress(b, "zlib"),
    "zip": lambda b: _bounded_decompress(b, "zlib"),
    "zlib_codec": lambda b: _bounded_decompress(b, "zlib"),
    "bz2": lambda b: _bounded_decompress(b, "bz2"),
    "bz2_codec": lambda b: _bounded_decompress(b, "bz2"),
}
_STR_METHODS = {
    "lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize",
    "casefold", "replace", "removeprefix", "removesuffix", "zfill",
}


def _decode_text(data: Any, encoding: str = "utf-8") -> str:
    if isinstance(data, str):
        return data
    try:
        return _as_bytes(data).decode(encoding, "replace")
    except LookupError:
        raise _Fail


def _closed(_: object) -> Any:
    raise RuntimeError("the resolver of this Folder was closed")


class Folder:
    """Folds an expression to a constant using the resolver's view of names.

    ``qualify(node)`` returns the possible qualified names of a callee (``{"base64.b64decode"}``);
    ``lookup(name)`` returns what a variable was bound to, if it was a foldable constant.
    """

    __slots__ = ("_encoded", "_function", "_lookup", "_qualify")

    def __init__(
        self,
        qualify: Callable[[ast.AST], set[str]],
        lookup: Callable[[str], Folded | None],
        function: Callable[[str], tuple[tuple[str, ...], ast.AST] | None] | None = None,
    ) -> None:
        self._qualify = qualify
        self._lookup = lookup
        # "<fn:name>" -> (parameters, returned expression) of a one-expression function
        self._function = function or (lambda qual: None)
        self._encoded = False  # set while folding: did a decoder take part?

    def close(self) -> None:
        """Drop the callbacks (they are bound methods of the resolver that owns this folder)."""
        self._qualify = self._lookup = self._function = _closed

    def fold(self, node: ast.AST | None) -> Folded | None:
        cls = node.__class__
        if cls is ast.Constant:  # the common cases first, without the interpreter's set-up
            value = node.value  # type: ignore[union-attr]
            return Folded(value) if isinstance(value, _CONSTANTS) or value is None else None
        if cls is ast.Name:
            return self._lookup(node.id)  # type: ignore[union-attr]
        if node is None:
            return None
        self._encoded = False
        try:
            value = self._fold(node, {}, 0)
        except (_Fail, ValueError, TypeError, OverflowError, IndexError, KeyError,
                binascii.Error, zlib.error, lzma.LZMAError, OSError, UnicodeError,
                RecursionError, MemoryError, AttributeError, EOFError):
            return None
        return Folded(value, self._encoded)

    def fold_str(self, node: ast.AST | None) -> str | None:
        """Fold to text (bytes are decoded), or None."""
        if node.__class__ is ast.Constant and node.value.__class__ is str:  # type: ignore
            return node.value  # type: ignore[union-attr]
        folded = self.fold(node)
        if folded is None:
            return None
        if isinstance(folded.value, str):
            return folded.value
        if isinstance(folded.value, (bytes, bytearray)):
            return bytes(folded.value).decode("utf-8", "replace")
        return None

    # -- the interpreter -------------------------------------------------------------------
    def _fold(self, node: ast.AST, env: dict[str, Any], depth: int) -> Any:
        if depth > 60:
            raise _Fail
        depth += 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, _CONSTANTS) or node.value is None:
                return node.value
            raise _Fail
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            found = self._lookup(node.id)
            if found is None:
                raise _Fail
            self._encoded = self._encoded or found.encoded
            return found.value
        if node.__class__ is ast.Call:  # the most common node after constants and names
            return _check(self._call(node, env, depth))  # type: ignore[arg-type]
        if node.__class__ is ast.Attribute:
            return self._attribute(node, depth)  # type: ignore[arg-type]
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value))
                elif isinstance(value, ast.FormattedValue):
                    inner = self._fold(value.value, env, depth)
                    if value.format_spec is not None:
                        spec = self._fold(value.format_spec, env, depth)
                        parts.append(format(inner, spec))
                    elif value.conversion == ord("r"):
                        parts.append(repr(inner))
                    else:
                        parts.append(str(inner))
                else:
                    raise _Fail
            return _check("".join(parts))
        if isinstance(node, ast.BinOp):
            left = self._fold(node.left, env, depth)
            right = self._fold(node.right, env, depth)
            return _check(self._binop(node.op, left, right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._fold(node.operand, env, depth)
            if isinstance(value, int):
                return -value
            raise _Fail
        if isinstance(node, (ast.List, ast.Tuple)):
            if len(node.elts) > MAX_VALUE:
                raise _Fail
            return [self._fold(e, env, depth) for e in node.elts]
        if isinstance(node, ast.Subscript):
            value = self._fold(node.value, env, depth)
            if isinstance(node.slice, ast.Slice):
                s = node.slice
                args = [None if p is None else self._fold(p, env, depth)
                        for p in (s.lower, s.upper, s.step)]
                if args[2] is not None and args[2] < 0:
                    self._encoded = True  # reversed text
                return value[slice(*args)]
            return value[self._fold(node.slice, env, depth)]
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(node, env, depth)
        raise _Fail

    def _attribute(self, node: ast.Attribute, depth: int) -> Any:
        """Module constants (os.sep, string.ascii_lowercase), host locations (sys.prefix,
        np.__file__) and constants bound in a class body of the cell (``A.name``)."""
        for qual in sorted(self._qualify(node)):
            found = hostpaths.HOST_ATTRIBUTES.get(qual)
            if found is not None:
                return found
            if node.attr in ("__file__", "__path__") and qual[:1] != "<" and "()" not in qual:
                return hostpaths.module_file(qual.rpartition(".")[0], node.attr)
            if node.attr in hostpaths.SPEC_ATTRIBUTES and qual.startswith(
                    "importlib.util.find_spec()"):
                return hostpaths.module_file("module", node.attr)
        for base in sorted(self._qualify(node.value)):
            if base.startswith(_CLASS):
                found = self._lookup(f"{base[len(_CLASS):].partition('>')[0]}.{node.attr}")
                if found is not None:
                    self._encoded = self._encoded or found.encoded
                    return found.value
        raise _Fail

    @staticmethod
    def _binop(op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.Add):
            if type(left) is type(right) or (isinstance(left, (int, float))
                                               and isinstance(right, (int, float))):
                return left + right
            if isinstance(left, (bytes, bytearray)) and isinstance(right, (bytes, bytearray)):
                return bytes(left) + bytes(right)
            raise _Fail
        if isinstance(op, ast.Mult):
            if isinstance(left, int) and isinstance(right, int):
                return left * right
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(n, int) and isinstance(seq, (str, bytes, list)):
                if len(seq) * max(n, 0) > MAX_VALUE:
                    raise _Fail
                return seq * n
            raise _Fail
        if isinstance(left, int) and isinstance(right, int):
            if isinstance(op, ast.Sub):
                return left - right
            if isinstance(op, ast.BitXor):
                return left ^ right
            if isinstance(op, ast.BitAnd):
                return left & right
            if isinstance(op, ast.BitOr):
                return left | right
            if isinstance(op, ast.Mod) and right:
                return left % right
            if isinstance(op, ast.FloorDiv) and right:
                return left // right
        if isinstance(op, ast.Mod) and isinstance(left, str):
            args = tuple(right) if isinstance(right, list) else right
            return left % args
        raise _Fail

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp, env: dict[str, Any],
                       depth: int) -> list[Any]:
        if len(node.generators) != 1:
            raise _Fail
        gen = node.generators[0]
        if not isinstance(gen.target, ast.Name) or gen.is_async:
            raise _Fail
        items = self._fold(gen.iter, env, depth)
        if isinstance(items, (str, bytes, list)):
            items = list(items)
        else:
            raise _Fail
        if len(items) > MAX_VALUE:
            raise _Fail
        out = []
        for item in items:
            inner = dict(env)
            inner[gen.target.id] = item
            if all(self._fold(cond, inner, depth) for cond in gen.ifs):
                out.append(self._fold(node.elt, inner, depth))
        return out

    def _call(self, node: ast.Call, env: dict[str, Any], depth: int) -> Any:
        func = node.func
        if func.__class__ is ast.Lambda:  # (lambda: "o" + "s")()
            return self._inline(_lambda_params(func), func.body, node, env, depth)  # type: ignore
        if func.__class__ is ast.Attribute and func.attr not in FOLDABLE_METHODS and (
                not self._qualify(func)):
            # df.mean(), model.fit(X): neither a string method nor a known function; the
            # branches below could only fail (and fold the receiver chain to find out).
            raise _Fail
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _Fail
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        # Methods on a foldable receiver: "".join(...), s.decode(), s[::-1].upper() ...
        if isinstance(func, ast.Attribute):
            name = func.attr
            quals = self._qualify(func)
            if not quals or not any(q.split(".")[0] in _DECODER_MODULES for q in quals):
                try:
                    receiver = self._fold(func.value, env, depth)
                except _Fail:
                    receiver = _Fail
                if receiver is not _Fail:
                    args = [self._fold(a, env, depth) for a in node.args]
                    return self._method(receiver, name, args, kwargs, env, depth)
        quals = self._qualify(func)
        if len(quals) > 1 and sum(q.startswith("<fn:") for q in quals) > 1:
            raise _Fail  # two definitions of the function: its value is not known
        # In a fixed order: with several meanings, the one that folds first must not depend on
        # the process's string hashing.
        for qual in (quals if len(quals) < 2 else sorted(quals)):
            result = self._known_call(qual, node, kwargs, env, depth)
            if result is not _Fail:
                return result
        raise _Fail

    def _inline(self, params: tuple[str, ...] | None, body: ast.AST, node: ast.Call,
                env: dict[str, Any], depth: int) -> Any:
        """The value of a one-expression function of the cell called with constants."""
        if params is None or node.keywords or len(node.args) != len(params):
            raise _Fail
        inner = dict(env)
        inner.update(zip(params, [self._fold(a, env, depth) for a in node.args], strict=True))
        return self._fold(body, inner, depth + 1)

    def _reduce(self, node: ast.Call, env: dict[str, Any], depth: int) -> Any:
        """functools.reduce(operator.add | lambda a, b: ..., items[, initial])."""
        if len(node.args) not in (2, 3) or node.keywords:
            raise _Fail
        items = list(self._fold(node.args[1], env, depth))
        if len(items) > _MAX_REDUCE:
            raise _Fail  # each step folds the function's body: keep the scan fast
        acc = self._fold(node.args[2], env, depth) if len(node.args) == 3 else items.pop(0)
        fn = node.args[0]
        params = _lambda_params(fn) if fn.__class__ is ast.Lambda else None
        adds = not params and not self._qualify(fn).isdisjoint(_ADD_FUNCTIONS)
        if not adds and (params is None or len(params) != 2):
            raise _Fail
        self._encoded = True  # a name assembled from pieces hides it from review
        for item in items:
            if adds:
                acc = _check(self._binop(ast.Add(), acc, item))
            else:
                inner = dict(env)
                inner.update(zip(params, (acc, item), strict=True))  # type: ignore[arg-type]
                acc = _check(self._fold(fn.body, inner, depth + 1))  # type: ignore[attr-defined]
        return acc

    def _method(self, receiver: Any, name: str, args: list[Any], kwargs: dict[str, ast.AST],
                env: dict[str, Any], depth: int) -> Any:
        if isinstance(receiver, Mapping):  # os.environ.get("HOME"): only host variables fold
            if name == "get" and args and args[0] in receiver:
                return receiver[args[0]]
            raise _Fail
        if name == "join" and isinstance(receiver, (str, bytes)) and len(args) == 1:
            items = args[0]
            if isinstance(items, (str, bytes)):
                items = list(items) if isinstance(items, str) else [bytes([b]) for b in items]
            return receiver.join(items)
        if name == "decode" and isinstance(receiver, (bytes, bytearray)):
            encoding = args[0] if args else "utf-8"
            if kwargs.get("encoding") is not None:
                encoding = self._fold(kwargs["encoding"], env, depth)
            return _decode_text(receiver, str(encoding))
        if name == "encode" and isinstance(receiver, str):
            encoding = args[0] if args else "utf-8"
            if str(encoding).replace("-", "_").lower() in _CODECS_TEXT:
                self._encoded = True
                return codecs.encode(receiver, "rot13")
            return receiver.encode(str(encoding), "replace")
        if name == "format" and isinstance(receiver, str):
            _plain_format(receiver)
            kw = {k: self._fold(v, env, depth) for k, v in kwargs.items()}
            return receiver.format(*args, **kw)
        if name == "__add__" and len(args) == 1:
            return self._binop(ast.Add(), receiver, args[0])
        if name in _STR_METHODS and isinstance(receiver, (str, bytes)):
            return getattr(receiver, name)(*args)
        raise _Fail

    def _known_call(self, qual: str, node: ast.Call, kwargs: dict[str, ast.AST],
                    env: dict[str, Any], depth: int) -> Any:
        def arg(i: int, key: str | None = None) -> Any:
            if i < len(node.args):
                return self._fold(node.args[i], env, depth)
            if key and key in kwargs:
                return self._fold(kwargs[key], env, depth)
            raise _Fail

        if qual.startswith("<fn:"):
            found = self._function(qual)
            if found is None:
                return _Fail
            return self._inline(found[0], found[1], node, env, depth)
        if qual == "functools.reduce":
            return self._reduce(node, env, depth)
        if qual == "builtins.getattr" and len(node.args) == 2:  # getattr(A, "name")
            name = arg(1)
            for base in sorted(self._qualify(node.args[0])):
                if base.startswith(_CLASS) and isinstance(name, str):
                    found = self._lookup(f"{base[len(_CLASS):].partition('>')[0]}.{name}")
                    if found is not None:
                        self._encoded = self._encoded or found.encoded
                        return found.value
            return _Fail
        if qual in _ADD_FUNCTIONS and len(node.args) == 2:
            return self._binop(ast.Add(), arg(0), arg(1))
        if qual in _PATH_FUNCTIONS:
            return _PATH_FUNCTIONS[qual](*[arg(i) for i in range(len(node.args))])
        if qual in hostpaths.HOST_CALLS or qual in ("sysconfig.get_path", "os.path.expanduser"):
            found = hostpaths.host_call(qual, [arg(i) for i in range(len(node.args))])
            return _Fail if found is None else found
        if qual in ("os.getenv", "os.environ.get", "posix.getenv"):
            key = arg(0, "key")
            return hostpaths.HOST_ENV.get(key, _Fail)
        module, _, name = qual.rpartition(".")
        if module == "builtins":
            if name == "chr":
                self._encoded = True  # building text from code points hides it from review
                return chr(arg(0))
            if name == "ord":
                return ord(arg(0))
            if name == "str":
                if len(node.args) >= 2:
                    return _decode_text(arg(0), str(arg(1)))
                value = arg(0) if node.args else ""
                return value if isinstance(value, str) else str(value)
            if name in ("bytes", "bytearray"):
                value = arg(0) if node.args else b""
                if isinstance(value, str):
                    return value.encode(str(arg(1)) if len(node.args) > 1 else "utf-8")
                if isinstance(value, list) and all(isinstance(v, int) for v in value):
                    self._encoded = True
                    return bytes(value)
                if isinstance(value, (bytes, bytearray)):
                    return bytes(value)
                raise _Fail
            if name == "int":
                value = arg(0)
                return int(value, arg(1)) if len(node.args) > 1 else int(value)
            if name in ("list", "tuple"):
                return list(arg(0))
            if name == "reversed":
                self._encoded = True
                return list(reversed(arg(0)))
            if name == "sorted" and set(kwargs) <= {"reverse"}:
                self._encoded = True
                reverse = bool(self._fold(kwargs["reverse"], env, depth)) if kwargs else False
                return sorted(arg(0), reverse=reverse)
            if name == "map" and len(node.args) == 2:
                fn = self._qualify(node.args[0])
                items = arg(1)
                if "builtins.chr" in fn:
                    self._encoded = True
                    return [chr(i) for i in items]
                if "builtins.str" in fn:
                    return [str(i) for i in items]
                if "builtins.ord" in fn:
                    return [ord(i) for i in items]
                raise _Fail
        if qual in ("builtins.bytes.fromhex", "builtins.bytearray.fromhex"):
            self._encoded = True
            return bytes.fromhex(str(arg(0)))
        if module == "base64" and name in _B64:
            self._encoded = True
            return _check(_B64[name](_as_bytes(arg(0, "s"))))
        if module == "binascii" and name in _BINASCII:
            self._encoded = True
            return _check(_BINASCII[name](_as_bytes(arg(0))))
        if qual in _DECOMPRESS:
            self._encoded = True
            return _bounded_decompress(_as_bytes(arg(0, "data")), _DECOMPRESS[qual])
        if qual in ("codecs.decode", "codecs.encode"):
            data = arg(0, "obj")
            encoding = str(arg(1, "encoding") if len(node.args) > 1 or "encoding" in kwargs
                           else "utf-8").replace("-", "_").lower()
            self._encoded = True
            if encoding in _CODECS_TEXT:
                return codecs.decode(_decode_text(data), "rot13")
            if encoding in _CODECS_BYTES and qual == "codecs.decode":
                return _check(_CODECS_BYTES[encoding](_as_bytes(data)))
            if qual == "codecs.decode":
                return _decode_text(data, encoding)
            raise _Fail
        return _Fail


_DECODER_MODULES = {"base64", "binascii", "zlib", "gzip", "bz2", "lzma", "codecs"}
_CLASS = "<class:"  # how the resolver names a class defined in the cell: "<class:A>"
_ADD_FUNCTIONS = frozenset({"operator.add", "operator.concat", "operator.__add__",
                            "operator.__concat__", "builtins.str.__add__"})
# Pure path functions (no file system access), folded with posixpath.
_PATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    f"{module}.{name}": getattr(posixpath, name)
    for module in ("os.path", "posixpath")
    for name in ("join", "dirname", "basename", "normpath")
} | {"os.path.expandvars": hostpaths.expandvars, "posixpath.expandvars": hostpaths.expandvars}


def _lambda_params(node: ast.AST) -> tuple[str, ...] | None:
    """The positional parameters of a lambda without defaults or variable arguments."""
    args = node.args  # type: ignore[attr-defined]
    if args.vararg or args.kwarg or args.kwonlyargs or args.defaults:
        return None
    return tuple(a.arg for a in (*args.posonlyargs, *args.args))


def _plain_format(template: str) -> None:
    """Refuse to fold a format string that walks attributes or indexes its arguments
    (the checks judge those) or asks for a huge width."""
    for _, field, spec, _ in string.Formatter().parse(template):
        if field and ("." in field or "[" in field):
            raise _Fail
        if spec and any(len(part) > 4 for part in "".join(
                c if c.isdigit() else " " for c in spec).split()):
            raise _Fail
# Every method name Folder._method can fold.
FOLDABLE_METHODS = frozenset({"join", "decode", "encode", "format", "__add__", *_STR_METHODS})
