"""Plain data between the grader and its children: length-prefixed frames over pipes.

A frame is ``MAGIC | header length (u32) | body length (u64) | header | body``:
the header is UTF-8 JSON (a dict, with ``"arrays": [[dtype, shape], ...]``),
the body the raw bytes of those arrays, one after another. Nothing here can
run code when it reads: JSON is parsed by `json`, arrays are
`numpy.frombuffer` over the body with a dtype from a fixed list.

The parent sends cases with `to_plain` (tuples, dicts, sets, complex numbers,
NumPy scalars, seeded `numpy.random.Generator`s and course functions by name
survive the trip). The child sends outcomes as `CaseOutcome.to_record`
records; the parent decodes them with `decode_outcome`, which checks every
field's type, length, depth and number range and raises `ResultError` (and
only that) for anything the child should not have sent.

>>> import numpy as np
>>> arrays = {}
>>> plain = to_plain((np.float32(1.5), [1, "a"], {"k": np.arange(3)}), arrays)
>>> back = from_plain(plain, arrays)
>>> back[0].dtype, back[1], back[2]["k"].tolist()
(dtype('float32'), [1, 'a'], [0, 1, 2])
"""

from __future__ import annotations

import json
import math
import os
import re
import struct

import numpy as np

__all__ = [
    "FrameReader",
    "MessageError",
    "ResultError",
    "decode_outcome",
    "encode_frame",
    "from_plain",
    "to_plain",
    "write_frame",
]

MAGIC = b"NTG1"
_PREFIX = struct.Struct(">4sIQ")
MAX_DEPTH = 40
MAX_HEADER_BYTES = 4 * 2**20
MAX_BODY_BYTES = 64 * 2**20  # per frame: one exercise's returned arrays
MAX_TOTAL_BYTES = 256 * 2**20  # per child, all frames together
MAX_ARRAYS = 4096
MAX_NDIM = 16
MAX_NODES = 100_000  # values in one outcome record
MAX_TEXT = {"error": 2000, "value_type": 200, "warning": 1000, "modified": 200}
MAX_STRING_VALUE = 100_000
MAX_INT_DIGITS = 40
_DTYPES = {
    np.dtype(name).str: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}
_UNICODE = re.compile(r"<U([1-9][0-9]{0,2})")  # strings of up to 999 characters
_FLOAT_HEX = re.compile(r"-?0x[01]\.[0-9a-f]{1,13}p[+-][0-9]{1,4}")
_INT = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}")
OUTCOME_STATUSES = ("ok", "not_implemented", "error")


class MessageError(ValueError):
    """A frame from the parent is not what the protocol writes (the child's side)."""


class ResultError(ValueError):
    """What a child sent is malformed, oversized or not what the protocol allows."""


# --- plain data (cases, parent -> child) ---------------------------------------


def _type_name(value) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def to_plain(value, arrays: dict[str, np.ndarray], depth: int = 0):
    """A JSON-able form of `value`; its arrays are added to `arrays` as a0, a1, ..."""
    if depth > MAX_DEPTH:
        raise TypeError("cannot send a value nested this deeply")
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is a float too
        array = np.asarray(value)
        if array.dtype.kind in "OV" or array.dtype.hasobject:
            raise TypeError(f"cannot send a NumPy array of dtype {array.dtype}")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {"$scalar" if isinstance(value, np.generic) else "$array": name}
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    if isinstance(value, np.random.Generator):
        bit_generator = value.bit_generator
        return {
            "$generator": type(bit_generator).__name__,
            "state": to_plain(bit_generator.state, arrays, depth + 1),
        }
    if isinstance(value, tuple):
        return {"$tuple": [to_plain(item, arrays, depth + 1) for item in value]}
    if isinstance(value, list):
        return [to_plain(item, arrays, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return {
            "$set": [to_plain(item, arrays, depth + 1) for item in value],
            "frozen": isinstance(value, frozenset),
        }
    if isinstance(value, dict):
        return {
            "$dict": [
                [to_plain(key, arrays, depth + 1), to_plain(item, arrays, depth + 1)]
                for key, item in value.items()
            ]
        }
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if (
        callable(value)
        and isinstance(module, str)
        and module.split(".")[0] == "utils"
        and "<" not in name
        and _resolve(module, name) is value
    ):
        return {"$callable": [module, name]}
    raise TypeError(f"cannot send a {_type_name(value)} to or from a grading process")


def _resolve(module: str, name: str):
    """`module.name` of the course package (a function or class), or None."""
    import importlib

    if module.split(".")[0] != "utils":
        return None
    try:
        target = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return target


_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
}


def from_plain(plain, arrays, depth: int = 0, *, callables: bool = False):
    """Undo `to_plain`; `arrays` maps names to arrays. Course functions sent by
    name are looked up only with `callables=True` (the child reading its cases)."""
    if depth > MAX_DEPTH + 2:
        raise MessageError("message nested too deeply")
    if plain is None or isinstance(plain, (bool, int, float, str)):
        return plain
    if isinstance(plain, list):
        return [from_plain(item, arrays, depth + 1, callables=callables) for item in plain]
    if not isinstance(plain, dict) or len(plain) not in (1, 2):
        raise MessageError(f"unexpected item in message: {type(plain).__name__}")
    if "$array" in plain:
        return np.array(arrays[plain["$array"]])
    if "$scalar" in plain:
        return np.asarray(arrays[plain["$scalar"]])[()]
    if "$tuple" in plain:
        return tuple(
            from_plain(item, arrays, depth + 1, callables=callables) for item in plain["$tuple"]
        )
    if "$dict" in plain:
        return {
            from_plain(key, arrays, depth + 1, callables=callables): from_plain(
                item, arrays, depth + 1, callables=callables
            )
            for key, item in plain["$dict"]
        }
    if "$set" in plain:
        items = {from_plain(item, arrays, depth + 1, callables=callables) for item in plain["$set"]}
        return frozenset(items) if plain.get("frozen") else items
    if "$complex" in plain:
        real, imag = plain["$complex"]
        return complex(float(real), float(imag))
    if "$generator" in plain:
        kind = _BIT_GENERATORS.get(plain["$generator"])
        if kind is None:
            raise MessageError(f"unknown bit generator {plain['$generator']!r}")
        bit_generator = kind()
        bit_generator.state = from_plain(plain["state"], arrays, depth + 1, callables=callables)
        return np.random.Generator(bit_generator)
    if "$callable" in plain and callables:
        module, name = (str(part) for part in plain["$callable"])
        target = _resolve(module, name)
        if target is None or not callable(target):
            raise MessageError(f"no function {module}.{name} in the course package")
        return target
    raise MessageError(f"unexpected keys in message: {sorted(plain)}")


# --- frames ----------------------------------------------------------------------


def encode_frame(header: dict, arrays: list[np.ndarray] = ()) -> bytes:
    """One frame: `header` (JSON-able, without "arrays") plus `arrays` in order."""
    # asarray copies only what is not C-contiguous already, and keeps 0-d arrays 0-d.
    contiguous = [np.asarray(array, order="C") for array in arrays]
    for array in contiguous:
        if array.dtype.kind in "OV" or array.dtype.hasobject:
            raise TypeError(f"cannot send a NumPy array of dtype {array.dtype}")
    described = [[array.dtype.str, list(array.shape)] for array in contiguous]
    text = json.dumps({**header, "arrays": described}, allow_nan=True).encode("utf-8")
    body = b"".join(array.tobytes() for array in contiguous)
    return _PREFIX.pack(MAGIC, len(text), len(body)) + text + body


def write_frame(descriptor: int, header: dict, arrays: list[np.ndarray] = ()) -> None:
    """Write one frame whole to a (blocking) file descriptor."""
    view = memoryview(encode_frame(header, arrays))
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _dtype(text) -> np.dtype:
    if not isinstance(text, str):
        raise ResultError("an array's dtype is not a string")
    if text in _DTYPES:
        return _DTYPES[text]
    if _UNICODE.fullmatch(text):
        return np.dtype(text)
    raise ResultError(f"arrays of dtype {text[:20]!r} are not accepted")


def _arrays_from(described, body: bytes) -> list[np.ndarray]:
    if not isinstance(described, list) or len(described) > MAX_ARRAYS:
        raise ResultError("the frame's list of arrays is missing or too long")
    arrays, offset = [], 0
    for item in described:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], list)):
            raise ResultError("an array description is not [dtype, shape]")
        dtype, shape = _dtype(item[0]), item[1]
        if len(shape) > MAX_NDIM or not all(
            type(size) is int and 0 <= size <= MAX_BODY_BYTES for size in shape
        ):
            raise ResultError("an array has an impossible shape")
        count = math.prod(shape)
        size = count * dtype.itemsize
        if offset + size > len(body):
            raise ResultError("the frame's arrays are larger than its body")
        if math.prod(size for size in shape if size) > MAX_BODY_BYTES:  # e.g. (0, 2**26, ...)
            raise ResultError("an array has an impossible shape")
        try:
            array = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
        except ValueError:
            raise ResultError("an array has an impossible shape") from None
        arrays.append(array)
        offset += size
    if offset != len(body):
        raise ResultError("the frame's body holds bytes no array describes")
    return arrays


def parse_frame(header_bytes: bytes, body: bytes, error=ResultError) -> tuple[dict, list]:
    """(header dict, arrays) of one frame's parts; raises `error` when malformed."""
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:
        raise error(f"a frame's header is not JSON ({type(problem).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise error("a frame's header is not a message")
    try:
        return header, _arrays_from(header.pop("arrays", None), body)
    except ResultError as problem:
        raise error(str(problem)) from None


class FrameReader:
    """Cuts a byte stream into frames, refusing anything over the size caps.

    `feed(data)` returns the complete frames so far as (header, arrays) pairs.
    """

    def __init__(self, *, max_body: int = MAX_BODY_BYTES, max_total: int = MAX_TOTAL_BYTES):
        self.max_body, self.max_total = max_body, max_total
        self.received = 0
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of a frame not complete yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[dict, list]]:
        self.received += len(data)
        if self.received > self.max_total:
            raise ResultError(f"the child sent more than {self.max_total // 2**20} MiB")
        self._buffer += data
        frames = []
        while len(self._buffer) >= _PREFIX.size:
            magic, header_size, body_size = _PREFIX.unpack_from(self._buffer)
            if magic != MAGIC:
                raise ResultError("the child's results are not framed as the protocol writes")
            if header_size > MAX_HEADER_BYTES or body_size > self.max_body:
                raise ResultError("a frame from the child is larger than allowed")
            end = _PREFIX.size + header_size + body_size
            if len(self._buffer) < end:
                break
            header = bytes(self._buffer[_PREFIX.size : _PREFIX.size + header_size])
            body = bytes(self._buffer[_PREFIX.size + header_size : end])
            del self._buffer[:end]
            frames.append(parse_frame(header, body))
        return frames


def read_frame(file, error=MessageError) -> tuple[dict, list] | None:
    """One frame from a binary file (the child reading its job); None at its end."""
    prefix = file.read(_PREFIX.size)
    if not prefix:
        return None
    if len(prefix) != _PREFIX.size:
        raise error("truncated frame")
    magic, header_size, body_size = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise error("not a frame")
    header, body = file.read(header_size), file.read(body_size)
    if len(header) != header_size or len(body) != body_size:
        raise error("truncated frame")
    return parse_frame(header, body, error)


# --- outcome records (child -> parent) -------------------------------------------


def _text(value, limit: int, what: str) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ResultError(f"{what} is not a string of at most {limit} characters")
    return value


def _texts(value, limit: int, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > 64:
        raise ResultError(f"{what} is not a short list")
    return tuple(_text(item, limit, what) for item in value)


def _float(text) -> float:
    if text in ("inf", "-inf", "nan"):
        return float(text)
    if not isinstance(text, str) or not _FLOAT_HEX.fullmatch(text):
        raise ResultError("a float is not written as float.hex() writes it")
    try:
        return float.fromhex(text)
    except (OverflowError, ValueError):
        raise ResultError("a float is out of range") from None


class _ValueDecoder:
    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.nodes = 0

    def __call__(self, item, depth: int = 0):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ResultError("a returned value has too many parts")
        if depth > MAX_DEPTH:
            raise ResultError("a returned value is nested too deeply")
        if not isinstance(item, dict):
            raise ResultError("a returned value is not an encoded item")
        kind = item.get("type")
        keys = set(item)
        expected = _VALUE_KEYS.get(kind) if isinstance(kind, str) else None
        if expected is None or keys != expected:
            raise ResultError("a returned value has an unknown type or fields")
        if kind == "none":
            return None
        if kind == "bool":
            if not isinstance(item["value"], bool):
                raise ResultError("a bool is not true or false")
            return item["value"]
        if kind == "int":
            if not isinstance(item["value"], str) or not _INT.fullmatch(item["value"]):
                raise ResultError(f"an int is not written as at most {MAX_INT_DIGITS} digits")
            return int(item["value"])
        if kind == "float":
            return _float(item["value"])
        if kind == "complex":
            return complex(_float(item["real"]), _float(item["imag"]))
        if kind == "str":
            return _text(item["value"], MAX_STRING_VALUE, "a returned string")
        if kind in ("array", "scalar"):
            key = item["key"]
            if not isinstance(key, str) or key not in self.arrays:
                raise ResultError("a returned array refers to no array of the frame")
            array = self.arrays[key]
            if kind == "scalar":
                if array.shape != ():
                    raise ResultError("a returned scalar is not a 0-d array")
                return array[()]
            return array
        items = item["items"]
        if not isinstance(items, list):
            raise ResultError("a returned container has no list of items")
        if kind in ("list", "tuple"):
            decoded = [self(part, depth + 1) for part in items]
            return decoded if kind == "list" else tuple(decoded)
        result = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ResultError("a returned dict item is not a [key, value] pair")
            result[_text(pair[0], 1000, "a dict key")] = self(pair[1], depth + 1)
        return result


_VALUE_KEYS = {
    "none": {"type"},
    "bool": {"type", "value"},
    "int": {"type", "value"},
    "float": {"type", "value"},
    "complex": {"type", "real", "imag"},
    "str": {"type", "value"},
    "array": {"type", "key"},
    "scalar": {"type", "key"},
    "list": {"type", "items"},
    "tuple": {"type", "items"},
    "dict": {"type", "items"},
}
_RECORD_KEYS = {"status", "value", "warnings", "error", "modified_inputs", "value_type"}


def decode_outcome(item, frame_arrays: list[np.ndarray]):
    """A `CaseOutcome` from one outcome entry of a child's exercise frame.

    `item` is ``{"record": CaseOutcome.to_record()[0], "arrays": {key: index},
    "timed_out": bool}``; indices point into the frame's arrays. Raises
    `ResultError` for anything else.
    """
    from utils.checks import CaseOutcome

    if not isinstance(item, dict) or set(item) != {"record", "arrays", "timed_out"}:
        raise ResultError("an outcome entry has unexpected fields")
    if not isinstance(item["timed_out"], bool):
        raise ResultError("an outcome's timed_out is not true or false")
    mapping = item["arrays"]
    if not isinstance(mapping, dict) or len(mapping) > MAX_ARRAYS:
        raise ResultError("an outcome's arrays are not a mapping")
    arrays = {}
    for key, index in mapping.items():
        if type(index) is not int or not 0 <= index < len(frame_arrays):
            raise ResultError("an outcome refers to an array the frame does not hold")
        arrays[key] = frame_arrays[index]
    record = item["record"]
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        raise ResultError("an outcome record has unexpected fields")
    status = record["status"]
    if status not in OUTCOME_STATUSES:
        raise ResultError("an outcome has an unknown status")
    outcome = CaseOutcome(
        status=status,
        value=_ValueDecoder(arrays)(record["value"]),
        warnings=_texts(record["warnings"], MAX_TEXT["warning"], "a warning"),
        error=_text(record["error"], MAX_TEXT["error"], "an error message"),
        modified_inputs=_texts(record["modified_inputs"], MAX_TEXT["modified"], "an input name"),
        value_type=_text(record["value_type"], MAX_TEXT["value_type"], "a type name"),
    )
    return outcome, item["timed_out"]
