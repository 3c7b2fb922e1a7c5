"""Plain data between the grader and its child processes: JSON plus an `.npz`.

Nothing here can run code when it reads: JSON is parsed by `json`, arrays by
`numpy.load(..., allow_pickle=False)`. Tuples, dicts, sets, complex numbers,
NumPy scalars, seeded `numpy.random.Generator`s and functions of the course
package (sent by name, e.g. a model passed to a decoding exercise) survive the
trip; anything else is refused with a `TypeError` when it is written.

>>> import numpy as np
>>> arrays = {}
>>> plain = to_plain((np.float32(1.5), [1, "a"], {"k": np.arange(3)}), arrays)
>>> back = from_plain(plain, arrays)
>>> back[0].dtype, back[1], back[2]["k"].tolist()
(dtype('float32'), [1, 'a'], [0, 1, 2])
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import zipfile

import numpy as np

__all__ = [
    "MessageError",
    "from_plain",
    "read_message",
    "to_plain",
    "write_message",
]

MAX_DEPTH = 40
MAX_JSON_BYTES = 16 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20


class MessageError(ValueError):
    """A message file is missing, too large, or not what the protocol writes."""


def _type_name(value) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def to_plain(value, arrays: dict[str, np.ndarray], depth: int = 0):
    """A JSON-able form of `value`; its arrays are added to `arrays` by name."""
    if depth > MAX_DEPTH:
        raise TypeError("cannot send a value nested this deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind in "OV" or array.dtype.hasobject:
            raise TypeError(f"cannot send a NumPy array of dtype {array.dtype}")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {"$scalar" if isinstance(value, np.generic) else "$array": name}
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
    """Undo `to_plain`; `arrays` maps names to arrays (a dict or an open `.npz`).

    Functions sent by name are looked up only with `callables=True` (the child
    reading its cases); the grader reading a child's results never imports
    anything a child names.
    """
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
            _hashable(from_plain(key, arrays, depth + 1, callables=callables)): from_plain(
                item, arrays, depth + 1, callables=callables
            )
            for key, item in plain["$dict"]
        }
    if "$set" in plain:
        items = {
            _hashable(from_plain(item, arrays, depth + 1, callables=callables))
            for item in plain["$set"]
        }
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


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        raise MessageError("unhashable key in message") from None
    return value


def write_message(directory: str, stem: str, payload) -> None:
    """Write `payload` as `stem.json` (+ `stem.npz`), each renamed into place whole."""
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(to_plain(payload, arrays), allow_nan=True)
    if arrays:
        temporary = os.path.join(directory, f".{stem}.npz.partial")
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
        os.replace(temporary, os.path.join(directory, f"{stem}.npz"))
    temporary = os.path.join(directory, f".{stem}.json.partial")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, os.path.join(directory, f"{stem}.json"))


def _read_regular_file(directory: str, name: str, limit: int) -> bytes | None:
    """The bytes of `directory/name`, refusing symlinks, FIFOs, devices and huge files."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(os.path.join(directory, name), flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MessageError(f"cannot open {name}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise MessageError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise MessageError(f"{name} is larger than {limit} bytes")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise MessageError(f"{name} is larger than {limit} bytes")
    return data


def read_message(directory: str, stem: str):
    """Read what `write_message` wrote; None when `stem.json` does not exist.

    Raises `MessageError` for anything malformed, oversized or not a plain file.
    """
    text = _read_regular_file(directory, f"{stem}.json", MAX_JSON_BYTES)
    if text is None:
        return None
    try:
        plain = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MessageError(f"{stem}.json is not valid JSON ({type(error).__name__})") from None
    archive = _read_regular_file(directory, f"{stem}.npz", MAX_ARRAY_BYTES)
    with contextlib.ExitStack() as stack:
        arrays: dict = {}
        if archive is not None:
            arrays = stack.enter_context(_open_npz(archive, stem))
        try:
            return from_plain(plain, arrays)
        except MessageError:
            raise
        except (KeyError, ValueError, TypeError, RecursionError, OSError) as error:
            raise MessageError(f"{stem}: malformed message ({type(error).__name__})") from None


@contextlib.contextmanager
def _open_npz(archive: bytes, stem: str):
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as listing:
            unpacked = sum(member.file_size for member in listing.infolist())
    except zipfile.BadZipFile:
        raise MessageError(f"{stem}.npz is not an .npz archive") from None
    if unpacked > MAX_ARRAY_BYTES:
        raise MessageError(f"{stem}.npz unpacks to more than {MAX_ARRAY_BYTES} bytes")
    try:
        arrays = np.load(io.BytesIO(archive), allow_pickle=False)
    except (ValueError, OSError) as error:
        raise MessageError(f"{stem}.npz cannot be read ({error})") from None
    with arrays:
        yield arrays
