"""Grading at scale: a small class graded in one run and in 3 shards (`--shard K/3`),
the shards merged (`merge`), and every output file compared byte for byte; merge
refuses shards it must not combine, with a one-line reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grading_fixtures as fx
import pytest
import yaml
from test_grading import copy_course, run_grader

from utils.grading._report import gradebook_contents
from utils.grading._shard import parse_shard, seed_check, shard_of

SEED = "shard-seed-2718"
LESSON_FILE = fx.lesson_path("solutions", fx.LESSON).name
STUDENTS = {  # name: shard of 3 (checked below, so the class covers every shard)
    "alice": 3,
    "bob": 3,
    "dave": 2,
    "heidi": 2,
    "erin": 1,
    "judy": 1,
}


def build(submissions):
    fx.write(fx.correct(), submissions / "alice" / LESSON_FILE)
    fx.write(fx.wrong(), submissions / "bob" / LESSON_FILE)
    fx.write(fx.other_lesson(), submissions / "bob" / "lesson01.ipynb")
    # Beside bob/: also student "bob", with the same feedback name (bob/bob.md) as
    # bob/bob.ipynb would have: both kept, in the same shard.
    fx.write(fx.untouched(), submissions / "bob.ipynb")
    fx.write(fx.wrong(), submissions / "bob" / "bob.ipynb")
    fx.write(fx.untouched(), submissions / "dave" / LESSON_FILE)
    fx.write_bytes(b'{"cells": [', submissions / "heidi" / LESSON_FILE)
    fx.write(
        fx.set_answer(fx.correct(), "00_scores_above", "def scores_above(s, t)\n    return s\n"),
        submissions / "erin" / LESSON_FILE,
    )
    fx.write(fx.wrong(), submissions / "judy" / "first.ipynb")
    fx.write(fx.correct(), submissions / "judy" / "final.ipynb")


def grade(course, submissions, out, *extra):
    result = run_grader(
        course,
        submissions,
        "--out",
        out,
        "--jobs",
        2,
        *extra,
        environment={"COURSE_GRADING_SEED": SEED},
    )
    assert result.returncode == 0, result.stderr
    return result


def merge(course, *arguments):
    return subprocess.run(
        [sys.executable, "-m", "utils.grading", "merge", *map(str, arguments)],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tree(folder):
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


ROSTER = (
    "folder,name,sis_user_id,section\n"
    + "".join(f"{name},{name.title()},s{index},A\n" for index, name in enumerate(STUDENTS))
    + "zoe,Zoe,s99,A\n"
)  # on the roster, no submission


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One run over the class (with a roster, so the LMS files are compared too), the
    three shards (no roster: it only shapes the class outputs), their merge with the
    roster, and without it."""
    base = tmp_path_factory.mktemp("shards")
    course = copy_course(base / "course")
    submissions = base / "submissions"
    build(submissions)
    roster = base / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    grade(course, submissions, base / "one", "--roster", roster)
    shards = []
    for index in (1, 2, 3):
        shards.append(base / f"shard-{index}")
        grade(course, submissions, shards[-1], "--shard", f"{index}/3")
    merged = merge(course, *shards, "--out", base / "merged", "--roster", roster)
    plain = merge(course, *shards, "--out", base / "merged-plain")
    return {"base": base, "course": course, "shards": shards, "merged": merged, "plain": plain}


def test_the_students_cover_every_shard():
    assert {name: shard_of(name, 3) for name in STUDENTS} == STUDENTS


def test_three_shards_merged_are_byte_for_byte_one_run(graded):
    base = graded["base"]
    assert graded["merged"].returncode == 0, graded["merged"].stderr
    one, merged = tree(base / "one"), tree(base / "merged")
    for name in ("grades.csv", "summary.csv", "rows.jsonl", "grading.json", "canvas.csv"):
        assert name in one
    assert any(name.startswith("feedback/bob/bob") and "~2" in name for name in one)
    assert sorted(one) == sorted(merged)
    for name in one:
        assert one[name] == merged[name], name


def test_without_a_roster_the_merge_writes_everything_but_the_lms_files(graded):
    assert graded["plain"].returncode == 0, graded["plain"].stderr
    one, plain = tree(graded["base"] / "one"), tree(graded["base"] / "merged-plain")
    assert "canvas.csv" not in plain
    for name in plain:
        if name != "report.html":  # the report also lists the roster's problems
            assert plain[name] == one[name], name


def test_each_student_is_graded_in_exactly_one_shard(graded):
    seen = {}
    for index, shard in enumerate(graded["shards"], start=1):
        with open(shard / "rows.jsonl", encoding="utf-8") as file:
            students = {json.loads(line)["student"] for line in file}
        for student in students:
            assert student not in seen, student
            seen[student] = index
        manifest = json.loads((shard / "grading.json").read_text())
        assert manifest["shard"] == [index, 3]
    assert seen == STUDENTS


def test_the_seed_is_in_no_output_file(graded):
    for folder in [graded["base"] / "one", *graded["shards"], graded["base"] / "merged"]:
        for name, data in tree(folder).items():
            assert SEED.encode() not in data, name


def _copy(graded, index, name):
    copy = graded["base"] / name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(graded["shards"][index], copy)
    return copy


def _edit_manifest(folder, **changes):
    path = folder / "grading.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def refusal(graded, *shards) -> str:
    result = merge(graded["course"], *shards, "--out", graded["base"] / "refused")
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (graded["base"] / "refused").exists()
    return result.stderr


def test_merge_refuses_missing_duplicate_or_foreign_shards(graded):
    one, two, three = graded["shards"]
    assert "missing shard(s) 2/3" in refusal(graded, one, three)
    assert "is given twice" in refusal(graded, one, one, two, three)
    assert "not a shard" in refusal(graded, one, two, three, graded["base"] / "one")
    other_seed = _copy(graded, 1, "other-seed")
    _edit_manifest(other_seed, seed=seed_check("another seed"))
    assert "different seeds" in refusal(graded, one, other_seed, three)
    other_course = _copy(graded, 1, "other-course")
    _edit_manifest(other_course, course="0" * 64)
    assert "different course fingerprints" in refusal(graded, one, other_course, three)
    other_count = _copy(graded, 1, "other-count")
    _edit_manifest(other_count, shard=[2, 4])
    assert "different shard counts" in refusal(graded, one, other_count, three)
    other_options = _copy(graded, 1, "other-options")
    manifest = json.loads((other_options / "grading.json").read_text())
    _edit_manifest(other_options, options={**manifest["options"], "own_implementation": "zero"})
    assert "different options" in refusal(graded, one, other_options, three)
    # Red team 01:54: a shard cut short or edited after grading is refused.
    broken_rows = _copy(graded, 1, "broken-rows")
    (broken_rows / "rows.jsonl").write_text('{"student": 1}\n')
    assert "incomplete or was changed" in refusal(graded, one, broken_rows, three)
    empty_rows = _copy(graded, 1, "empty-rows")
    (empty_rows / "rows.jsonl").write_bytes(b"")
    assert "incomplete or was changed" in refusal(graded, one, empty_rows, three)
    short_rows = _copy(graded, 1, "short-rows")
    lines = (short_rows / "rows.jsonl").read_bytes().splitlines(keepends=True)
    (short_rows / "rows.jsonl").write_bytes(b"".join(lines[:-1]))
    assert "incomplete or was changed" in refusal(graded, one, short_rows, three)
    lost_feedback = _copy(graded, 1, "lost-feedback")
    next((lost_feedback / "feedback").rglob("*.md")).unlink()
    assert "incomplete or was changed" in refusal(graded, one, lost_feedback, three)
    # Points that do not fit the status are refused even with a matching grading.json.
    edited = _copy(graded, 1, "edited-points")
    text = (edited / "rows.jsonl").read_text(encoding="utf-8")
    assert '"points":0.0,"max_points":1.0,"status":"not_attempted"' in text
    text = text.replace(
        '"points":0.0,"max_points":1.0,"status":"not_attempted"',
        '"points":0.5,"max_points":1.0,"status":"not_attempted"',
        1,
    )
    (edited / "rows.jsonl").write_text(text, encoding="utf-8")
    feedback = {
        str(path.relative_to(edited / "feedback")): path.read_bytes()
        for path in (edited / "feedback").rglob("*.md")
    }
    _edit_manifest(edited, contents=gradebook_contents(text.encode("utf-8"), feedback))
    assert "do not fit its status not_attempted" in refusal(graded, one, edited, three)
    no_manifest = _copy(graded, 1, "no-manifest")
    (no_manifest / "grading.json").unlink()
    assert "not a gradebook" in refusal(graded, one, no_manifest, three)


def test_shard_values_are_checked():
    assert parse_shard(" 3/8 ") == (3, 8)
    for bad in ("0/3", "4/3", "3", "a/b", "1/0", "-1/3", "1/3/5"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_the_seed_check_tells_seeds_apart_and_is_stable():
    assert seed_check(SEED) == seed_check(SEED)
    assert seed_check(SEED) != seed_check(SEED + " ")
    assert SEED not in seed_check(SEED)


# --- the cluster recipes in docs/ ------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_slurm_array_task_grades_its_shard_as_the_grader_does(graded, tmp_path):
    """docs/slurm/grade-array.sh, run as Slurm would run task 2 of 3, writes the very
    gradebook `--shard 2/3` wrote; the seed comes from the environment."""
    course = graded["course"]
    environment = {key: value for key, value in os.environ.items() if key != "COURSE_GRADING_SEED"}
    environment.update(
        COURSE=str(course),
        SUBMISSIONS=str(graded["base"] / "submissions"),
        GRADEBOOKS=str(tmp_path),
        SHARDS="3",
        SLURM_ARRAY_TASK_ID="2",
        PYTHON=sys.executable,
    )
    script = DOCS / "slurm" / "grade-array.sh"
    refused = subprocess.run(["bash", str(script)], env=environment, capture_output=True)
    assert refused.returncode == 2
    assert b"COURSE_GRADING_SEED is not set" in refused.stderr
    environment["COURSE_GRADING_SEED"] = SEED
    done = subprocess.run(
        ["bash", str(script)], env=environment, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert tree(tmp_path / "shard-2") == tree(graded["shards"][1])
    merged = subprocess.run(
        ["bash", str(DOCS / "slurm" / "merge.sh")],
        env={**environment, "GRADEBOOKS": str(graded["base"]), "COURSE": str(course)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # gradebooks/shard-* there are the fixture's three shards: merged into gradebooks/class.
    assert merged.returncode == 0, merged.stderr
    assert tree(graded["base"] / "class") == tree(graded["base"] / "merged-plain")


def test_the_kubernetes_job_maps_its_index_to_a_shard_and_keeps_the_seed_secret():
    jobs = list(yaml.safe_load_all((DOCS / "k8s" / "grading-job.yaml").read_text()))
    grading, merging = jobs
    spec = grading["spec"]
    assert spec["completionMode"] == "Indexed"
    (container,) = spec["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert int(env["SHARDS"]["value"]) == spec["completions"] == spec["parallelism"]
    assert env["COURSE_GRADING_SEED"]["valueFrom"]["secretKeyRef"]["key"] == "seed"
    command = " ".join(container["args"])
    assert "K=$((JOB_COMPLETION_INDEX + 1))" in command
    assert '--shard "$K/$SHARDS"' in command
    (merger,) = merging["spec"]["template"]["spec"]["containers"]
    assert "utils.grading merge /gradebooks/shard-*" in " ".join(merger["args"])
    # K for every index 0..completions-1 is a valid, distinct shard.
    shards = {parse_shard(f"{index + 1}/{spec['completions']}") for index in range(8)}
    assert len(shards) == spec["completions"]


def test_no_recipe_puts_the_seed_on_a_command_line():
    for path in [*DOCS.glob("k8s/*"), *DOCS.glob("slurm/*"), DOCS / "grading-at-scale.md"]:
        assert "--seed" not in path.read_text(), path
    for name in ("k8s/grading-job.yaml", "slurm/grade-array.sh", "grading-at-scale.md"):
        assert "COURSE_GRADING_SEED" in (DOCS / name).read_text(), name
