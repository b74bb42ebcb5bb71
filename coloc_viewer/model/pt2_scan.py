"""Pre-scan of a ``torch.export`` archive (``.pt2``) before ``torch.export.load`` sees it.

What ``torch.export.load`` does in torch 2.14.1 that can run code from the file
(``torch/export/pt2_archive/_package.py``, ``torch/_export/serde/serialize.py``):

* payloads flagged ``use_pickle`` in the weights/constants configs go through
  ``torch.load(weights_only=False)``; ``custom_obj_*`` constants through
  ``torch._C._pickle_load_obj`` and ``opaque_obj_*`` ones through ``pickle.loads``;
* legacy ``data/weights/<model>.pt``, ``data/constants/<model>.pt`` and the sample inputs
  are unpickled with ``weights_only=True`` first and, **on any failure, again with
  ``weights_only=False``**;
* an archive that is not a PT2 archive falls back to the 2.7 zip format (more pickles);
* ``data/aotinductor/`` holds compiled shared libraries that are loaded and run;
* symbolic shape expressions (``expr_str``) are parsed with ``sympy.sympify``, i.e. ``eval``;
* graph node targets ``torch.<anything>`` / ``_operator.*`` / ``math.*`` are resolved by
  ``getattr`` (``torch.os.system`` would be called by the graph);
* ``guards_code`` strings are compiled to a Python function by ``ExportedProgram.module()``.

So :func:`scan_pt2` refuses, without unpickling or evaluating anything: entries outside a
small allow-list, pickled payloads, custom objects, sample inputs that ``weights_only``
cannot read, graph targets outside ``torch.ops.{aten,prims}`` and a few harmless
operators, expression strings outside a tiny grammar, guard code, and tensors whose
declared size does not fit their record (no zero-filled allocation from a header).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from coloc_viewer.errors import ModelError
from coloc_viewer.limits import MAX_PT2_BYTES, MAX_PT2_JSON_BYTES

_FIXED = {"archive_format", "archive_version", "byteorder", ".data/version",
          ".data/serialization_id"}
_ENTRY = re.compile(
    r"(models/model\.json|data/weights/model_weights_config\.json|data/weights/weight_\d+"
    r"|data/constants/model_constants_config\.json|data/constants/tensor_\d+"
    r"|data/sample_inputs/model\.pt|extra/[A-Za-z0-9_.-]+)\Z")
_OPERATOR = {"getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pow",
             "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "not_", "abs"}
_HIGHER_ORDER = {"cond", "while_loop", "map_impl", "scan", "wrap_with_set_grad_enabled",
                 "wrap_with_autocast"}
_TARGET = re.compile(
    r"(torch\.ops\.(aten|prims)\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?"
    r"|torch\.ops\.higher_order\.(?P<hop>[A-Za-z0-9_]+)"
    r"|torch\.(_?sym_[a-z_]+)|math\.(ceil|floor|trunc|sqrt)|_operator\.(?P<op>[a-z_]+))\Z")
# sympy reprs such as "Symbol('s77', positive=True, integer=True)" or "Max(2, s0) + 1":
_EXPR_TOKEN = re.compile(r"\s+|\d+(\.\d+)?|[-+*/%(),<>=!]|'[a-z]{1,4}\d{1,9}'"
                         r"|[A-Za-z_][A-Za-z0-9_]*")
_EXPR_NAMES = {
    "Symbol", "Integer", "Rational", "Max", "Min", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And",
    "Or", "Not", "True", "False", "oo", "positive", "integer", "nonnegative", "real",
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt",
    "FloorToInt", "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv",
    "IntTrueDiv", "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat",
    "floor", "ceiling", "Abs", "sqrt"}
_SYMBOL = re.compile(r"[a-z]{1,4}\d{1,9}\Z")


def _refuse(reason: str, path: Path) -> ModelError:
    return ModelError(f"refused .pt2 archive: {reason}. Re-export the model with "
                      "torch.export.export(model, (example,)) and torch.export.save", path)


def _check_expr(text: Any, path: Path) -> None:
    if not isinstance(text, str) or len(text) > 10_000:
        raise _refuse("a symbolic shape expression is not a short string", path)
    pos = 0
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if m is None:
            raise _refuse(f"unsafe symbolic shape expression {text[:80]!r}", path)
        word = m.group(0)
        if (word[0].isalpha() or word[0] == "_") and word not in _EXPR_NAMES \
                and not _SYMBOL.match(word):
            raise _refuse(f"unsafe name {word!r} in symbolic shape expression", path)
        pos = m.end()


def _check_target(target: Any, path: Path) -> None:
    m = _TARGET.match(target) if isinstance(target, str) else None
    ok = m is not None and (m.group("hop") is None or m.group("hop") in _HIGHER_ORDER) \
        and (m.group("op") is None or m.group("op") in _OPERATOR) \
        and "file" not in target and "load" not in target and "save" not in target
    if not ok:
        raise _refuse(f"graph calls {str(target)[:80]!r}, which is not a plain tensor "
                      "operator (only torch.ops.aten/prims and a few others are run)", path)


def _walk_program(node: Any, path: Path, depth: int = 0) -> None:
    if depth > 200:
        raise _refuse("the program is nested too deeply", path)
    if isinstance(node, dict):
        if isinstance(node.get("target"), str) and "inputs" in node and "outputs" in node:
            _check_target(node["target"], path)
        for key, value in node.items():
            if key == "expr_str":
                _check_expr(value, path)
            else:
                _walk_program(value, path, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _walk_program(value, path, depth + 1)


def _json(zf: zipfile.ZipFile, name: str, path: Path) -> Any:
    if zf.getinfo(name).file_size > MAX_PT2_JSON_BYTES:
        raise _refuse(f"{name} is larger than {MAX_PT2_JSON_BYTES} bytes", path)
    try:
        return json.loads(zf.read(name))
    except (ValueError, RecursionError) as err:
        raise _refuse(f"{name} is not valid JSON ({err})", path) from None


def _numel_span(meta: dict[str, Any]) -> tuple[int, int]:
    """(number of elements, elements of storage needed) of a serialized tensor_meta."""
    def ints(key: str) -> list[int]:
        vals = [v.get("as_int") if isinstance(v, dict) else None for v in meta.get(key) or []]
        if not all(isinstance(v, int) and v >= 0 for v in vals):
            raise ValueError(f"{key} not static non-negative integers")
        return vals

    sizes, strides = ints("sizes"), ints("strides")
    offset = meta.get("storage_offset", {}).get("as_int", 0)
    if len(strides) != len(sizes) or not isinstance(offset, int) or offset < 0:
        raise ValueError("bad strides or storage offset")
    numel = math.prod(sizes)
    span = 0 if numel == 0 else offset + 1 + sum((s - 1) * st for s, st in zip(sizes, strides))
    return numel, span


def _check_payloads(zf: zipfile.ZipFile, root: str, kind: str, path: Path) -> None:
    name = f"{root}data/{kind}/model_{kind}_config.json"
    if name not in zf.NameToInfo:
        raise _refuse(f"data/{kind}/model_{kind}_config.json is missing", path)
    config = _json(zf, name, path)
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise _refuse(f"{kind} config is not a mapping", path)
    prefix = "weight_" if kind == "weights" else "tensor_"
    for fqn, meta in entries.items():
        if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
            raise _refuse(f"{kind} entry {str(fqn)[:60]!r} is a pickle, which could run "
                          "code when loaded", path)
        pname = meta.get("path_name")
        if not isinstance(pname, str) or not re.fullmatch(prefix + r"\d+", pname):
            raise _refuse(f"{kind} entry {str(fqn)[:60]!r} is not a plain tensor "
                          f"({str(pname)[:40]!r})", path)
        record = f"{root}data/{kind}/{pname}"
        if record not in zf.NameToInfo:
            raise _refuse(f"{kind} record {pname} is missing", path)
        tmeta = meta.get("tensor_meta")
        try:
            dtype = int(tmeta["dtype"])
            numel, span = _numel_span(tmeta)
        except (TypeError, KeyError, ValueError) as err:
            raise _refuse(f"{kind} entry {str(fqn)[:60]!r} has a bad tensor description "
                          f"({err})", path) from None
        if not 0 <= dtype <= 64 or numel > MAX_PT2_BYTES:
            raise _refuse(f"{kind} entry {str(fqn)[:60]!r} declares an impossible tensor", path)
        size = zf.getinfo(record).file_size
        if numel and size < span:  # elements needed vs bytes held (>= 1 byte per element)
            raise _refuse(f"{kind} entry {str(fqn)[:60]!r} declares more elements than its "
                          "record holds", path)


def _check_sample_inputs(zf: zipfile.ZipFile, root: str, path: Path) -> None:
    """torch unpickles the sample inputs with weights_only=True and, if that fails, again
    without restriction: make sure the restricted unpickler reads them."""
    name = f"{root}data/sample_inputs/model.pt"
    if name not in zf.NameToInfo:
        raise _refuse("data/sample_inputs/model.pt is missing", path)
    if zf.getinfo(name).file_size > MAX_PT2_JSON_BYTES:
        raise _refuse("the sample inputs are too large", path)
    try:
        obj = torch.load(io.BytesIO(zf.read(name)), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - whatever the unpickler raises, refuse
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise _refuse(f"the sample inputs need unrestricted unpickling ({first[:160]})",
                      path) from None
    if not isinstance(obj, tuple | dict):
        raise _refuse("the sample inputs are not a tuple", path)


def scan_pt2(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ModelError` unless the archive at ``path`` holds only one exported
    program with plain tensors (see the module docstring). Reads no pickle unrestricted,
    evaluates nothing, allocates nothing from header sizes."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ModelError(f"not a torch.export .pt2 archive ({err})", path) from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if not names or len(set(names)) != len(names):
            raise _refuse("empty archive or duplicate entry names", path)
        root = names[0].split("/", 1)[0] + "/"
        if sum(i.file_size for i in infos) > MAX_PT2_BYTES:
            raise _refuse(f"more than {MAX_PT2_BYTES} bytes of content", path)
        for name in names:
            rel = name[len(root):] if name.startswith(root) else None
            if rel is None or not (rel in _FIXED or _ENTRY.match(rel)):
                raise _refuse(f"unexpected entry {name[:120]!r} (only an exported program "
                              "with plain tensors is loaded; no pickles, compiled code or "
                              "custom objects)", path)
        fmt = root + "archive_format"
        if fmt not in zf.NameToInfo or zf.read(fmt).strip() != b"pt2":
            raise _refuse("not a PT2 archive (archive_format is not 'pt2')", path)
        if root + "models/model.json" not in names:
            raise _refuse("models/model.json is missing", path)
        _check_payloads(zf, root, "weights", path)
        _check_payloads(zf, root, "constants", path)
        program = _json(zf, root + "models/model.json", path)
        if not isinstance(program, dict):
            raise _refuse("models/model.json is not an object", path)
        if program.get("guards_code"):
            raise _refuse("the program carries guard code, which would be compiled and run",
                          path)
        for key in program.get("range_constraints") or {}:
            _check_expr(key, path)
        _walk_program(program, path)
        _check_sample_inputs(zf, root, path)
