"""Grading a class in shards (`--shard K/N`) and merging the shards' gradebooks.

A student belongs to shard ``1 + int(sha256(student)[:8]) % N`` (the student's
display name, UTF-8): a stable hash, so every shard decides alone, from the
same submissions folder, which students it grades; every student is in exactly
one shard, and all of a student's notebooks with it (the summary's best notebook
per lesson needs them together).

Each gradebook carries `grading.json`: what makes two runs comparable (the
seed's check digest, the course's source fingerprint, the options that change
grades, the whole class's list digest, the shard). `merge` refuses shards that
differ in any of these, a missing or duplicate shard, or a gradebook that is
not one, with a one-line reason; it then writes, from the shards' rows.jsonl
and feedback files, the same files as one run, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from utils.grading._grade import Row, course_fingerprint

__all__ = [
    "MergeError",
    "ShardError",
    "class_digest",
    "merge_gradebooks",
    "parse_shard",
    "seed_check",
    "shard_of",
    "source_fingerprint",
]

MANIFEST_FORMAT = "next-token-course gradebook 1"
_SHARD = re.compile(r"([1-9][0-9]{0,5})/([1-9][0-9]{0,5})")
MAX_FEEDBACK_BYTES = 16 * 2**20
MAX_MANIFEST_BYTES = 2**20


class ShardError(ValueError):
    """A --shard value that is not K/N with 1 <= K <= N."""


class MergeError(ValueError):
    """Shards that cannot be merged, with the one-line reason."""


def parse_shard(text: str) -> tuple[int, int]:
    """(K, N) from "K/N".

    >>> parse_shard("2/3")
    (2, 3)
    """
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        raise ShardError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/8), got {text!r}")
    index, count = int(match[1]), int(match[2])
    if index > count:
        raise ShardError(f"--shard {text}: K must be between 1 and N")
    return index, count


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) of a student, from a stable hash of the student's name.

    >>> shard_of("alice", 1), shard_of("alice", 4) == shard_of("alice", 4)
    (1, True)
    """
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def seed_check(seed: str) -> str:
    """A digest that tells whether two gradebooks used the same seed, slow to invert
    (scrypt): the seed itself is written nowhere."""
    return hashlib.scrypt(
        seed.encode("utf-8", "surrogateescape"),
        salt=b"next-token-course grading seed check",
        n=2**14,
        r=8,
        p=1,
        dklen=16,
    ).hex()


def source_fingerprint(course_root: str) -> str:
    """A hash of the course's `utils` sources (bytecode caches left out, so every machine
    of a cluster that has the same course agrees)."""
    return course_fingerprint(course_root, bytecode=False)


def class_digest(students: list[str]) -> str:
    """A digest of every student found below SUBMISSIONS (before sharding): shards of
    different submission folders are not merged."""
    digest = hashlib.sha256()
    for student in sorted(set(students)):
        digest.update(student.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict:
    path = folder / "grading.json"
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_MANIFEST_BYTES + 1)
        manifest = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{folder} is not a gradebook (no grading.json)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise MergeError(f"{path} cannot be read ({type(error).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise MergeError(f"{path} is not a gradebook manifest of this grader")
    return manifest


_COMPARED = {
    "seed": "seeds",
    "course": "course fingerprints (different utils sources)",
    "options": "options",
    "class": "submission folders (different lists of students)",
}


def _feedback_files(folder: Path) -> dict[str, bytes]:
    root = folder / "feedback"
    files = {}
    try:
        students = sorted(os.listdir(root))
    except OSError:
        raise MergeError(f"{folder} has no feedback folder") from None
    for student in students:
        if student.startswith("."):
            continue
        directory = root / student
        if not stat.S_ISDIR(os.lstat(directory).st_mode):
            raise MergeError(f"{directory} is not a folder")
        for name in sorted(os.listdir(directory)):
            path = directory / name
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise MergeError(f"{path} is not a regular file")
            with open(path, "rb") as file:
                data = file.read(MAX_FEEDBACK_BYTES + 1)
            if len(data) > MAX_FEEDBACK_BYTES:
                raise MergeError(f"{path} is too large for a feedback report")
            files[f"{student}/{name}"] = data
    return files


def merge_gradebooks(folders: list[Path]) -> tuple[dict, list[Row], dict[str, bytes], dict]:
    """(manifest, rows, feedback files, lesson points) of the whole class from its shards'
    gradebooks, or MergeError with the reason."""
    from utils.grading._report import gradebook_contents, read_rows

    if not folders:
        raise MergeError("no shard gradebooks given")
    manifests = [_read_manifest(folder) for folder in folders]
    first = manifests[0]
    for folder, manifest in zip(folders[1:], manifests[1:], strict=True):
        for key, what in _COMPARED.items():
            if manifest.get(key) != first.get(key):
                raise MergeError(f"{folders[0]} and {folder} were graded with different {what}")
    shards = [manifest.get("shard") for manifest in manifests]
    for folder, shard in zip(folders, shards, strict=True):
        if not (isinstance(shard, list) and len(shard) == 2 and all(type(v) is int for v in shard)):
            raise MergeError(f"{folder} is not a shard (graded without --shard)")
    counts = {count for _index, count in shards}
    if len(counts) != 1:
        raise MergeError(f"the shards were graded with different shard counts: {sorted(counts)}")
    count = counts.pop()
    seen: dict[int, Path] = {}
    for folder, (index, _count) in zip(folders, shards, strict=True):
        if index in seen:
            raise MergeError(f"shard {index}/{count} is given twice: {seen[index]} and {folder}")
        seen[index] = folder
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        listed = ", ".join(f"{index}/{count}" for index in missing)
        raise MergeError(f"missing shard(s) {listed} of {count}")
    rows: list[Row] = []
    feedback: dict[str, bytes] = {}
    lesson_points: dict[str, float] = {}
    groups: list[tuple[tuple, list[Row]]] = []
    for folder, manifest in zip(folders, manifests, strict=True):
        try:
            with open(folder / "rows.jsonl", "rb") as file:
                rows_bytes = file.read()
        except FileNotFoundError:
            raise MergeError(f"{folder} has no rows.jsonl") from None
        shard_feedback = _feedback_files(folder)
        if manifest.get("contents") != gradebook_contents(rows_bytes, shard_feedback):
            raise MergeError(
                f"{folder} is incomplete or was changed after grading (its rows.jsonl or "
                "feedback/ do not match its grading.json)"
            )
        try:
            shard_rows = read_rows(folder / "rows.jsonl")
        except FileNotFoundError:
            raise MergeError(f"{folder} has no rows.jsonl") from None
        except (OSError, ValueError) as error:
            raise MergeError(str(error)) from None
        index = manifest["shard"][0]
        for row in shard_rows:
            if shard_of(row.student, count) != index:
                raise MergeError(f"{folder} holds a student of another shard")
        for lesson, points in (manifest.get("lesson_points") or {}).items():
            if lesson_points.setdefault(lesson, points) != points:
                raise MergeError(f"lesson {lesson} has different maxima in the shards")
        for path, data in shard_feedback.items():
            if path in feedback:
                raise MergeError(f"two shards hold the feedback file {path}")
            feedback[path] = data
        by_submission: dict[str, list[Row]] = {}
        for row in shard_rows:
            by_submission.setdefault(row.feedback, []).append(row)
        for group in by_submission.values():
            groups.append(((group[0].student, group[0].notebook, group[0].feedback), group))
    groups.sort(key=lambda group: group[0])
    for _key, group in groups:
        rows.extend(group)
    merged = dict(first)
    merged.pop("contents", None)  # written anew for the merged files
    merged["shard"] = None
    merged["lesson_points"] = dict(sorted(lesson_points.items()))
    return merged, rows, feedback, merged["lesson_points"]
