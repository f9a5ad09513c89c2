"""The CLI case generators of ``scripts/attack_cases.py``, one function per group of the
issue's defect classes; helpers in ``attack_cli.py``. Files a case needs are made when it
runs (in its own working folder), so building the list costs nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from attack_cli import (
    BENCH,
    REPO,
    Case,
    cli,
    curation_recipe,
    eval_args,
    files_holding,
    one_line_refusal,
    refuse,
    refuse_process,
    succeed,
    tiny_model,
    write_jsonl,
)

KEYS = ("sk-ATTACK-0a1b2c3d", "sk-ROTATED-4e5f6a7b")
ENCODINGS = {"latin-1": "caf\xe9: 1\n".encode("latin-1"), "utf-16": "name: x\n".encode("utf-16"),
             "binary": bytes(range(256)), "nul bytes": b"name: a\x00b\n",
             "cp1252 quote": b"name: \x93x\x94\n", "truncated utf-8": b"name: \xe4\xb8\n"}
BROKEN_YAML = {"a list": "- 1\n- 2\n", "a scalar": "42\n", "empty": "", "syntax": "a: [1, 2\n",
               "tabs": "a:\n\tb: 1\n", "duplicate anchors": "a: &x 1\nb: *y\n"}


# -- 1, 2: secrets ---------------------------------------------------------------------------


def _stub():
    sys.path.insert(0, str(REPO / "tests" / "eval" / "judge"))
    from judge_stub import StubJudgeServer

    return StubJudgeServer()


def secret_cases(work: Path) -> list[Case]:
    cases: list[Case] = []
    ways = {"--api-key": lambda k: (["--api-key", k], {}),
            "LINGSHU_API_KEY": lambda k: ([], {"LINGSHU_API_KEY": k}),
            "OPENAI_API_KEY": lambda k: ([], {"OPENAI_API_KEY": k}),
            "--backend-opt api_key=": lambda k: (["--backend-opt", f"api_key={k}"], {}),
            "--backend-opt API-KEY=": lambda k: (["--backend-opt", f"API-KEY={k}"], {})}
    for way, make in ways.items():
        for rotate in (False, True):
            def run(make=make, rotate=rotate) -> tuple[bool, str]:
                stub = _stub()
                try:
                    base = ["eval", "run", "-b", "medqa-usmle", "--data-dir", str(BENCH),
                            "--backend", "openai", "--model", "m", "--base-url", stub.url,
                            "--limit", "2", "-o", "run", "-q", "--cache", "cache.sqlite"]
                    outs = []
                    for key in KEYS[: 1 + rotate]:
                        args, env = make(key)
                        rc, out = cli(*base, *args, "--no-cache" if rotate else "-q", env=env)
                        outs.append(out)
                        if rc != 0:  # a refused option is fine if it is one line, no leak
                            ok, why = one_line_refusal(rc, out)
                            leaks = files_holding(Path.cwd(), KEYS)
                            return ok and not leaks, f"{why}; on disk: {leaks[:3]}"
                    leaks = files_holding(Path.cwd(), KEYS)
                    echoed = [k for k in KEYS if any(k in o for o in outs)]
                    return not leaks and not echoed, f"on disk: {leaks[:3]}; echoed: {echoed}"
                finally:
                    stub.close()
            cases.append(("1 eval API key on disk / in identity",
                          f"{way}{' then rotated' if rotate else ''}", run))
    for field in ("api_key", "API_KEY", "token", "auth_token", "password", "secret"):
        def run(field=field) -> tuple[bool, str]:
            write_jsonl(Path("d.jsonl"), [{"id": "q0", "question": "What is 1 + 1?",
                                           "answer": "2"}])
            llm = {"backend": "openai", "max_new_tokens": 4,
                   "options": {"model": "m", "base_url": "http://127.0.0.1:9/v1",
                               field: KEYS[0], "max_retries": 0, "timeout_s": 2}}
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "synth_cot", "llm": llm, "keep_source": True}])
            rc, out = cli("data", "run", "--recipe", str(recipe))
            if rc != 0:
                return one_line_refusal(rc, out)  # refusing an unknown option is fine
            leaks = files_holding(Path("out"), KEYS)
            return not leaks and KEYS[0] not in out, f"on disk: {leaks[:3]}"
        cases.append(("2 curation api_key in data card", f"options.{field}", run))
    return cases


# -- 3, 4: reruns after edits, kill -9 --------------------------------------------------------


def _edit_in_place(path: Path, keep_mtime: bool) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    with path.open("r+b") as fh:
        fh.write(data)
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _images_of(out: Path) -> list[bytes]:
    rows = [json.loads(x) for p in sorted((out / "data").glob("shard-*.jsonl"))
            for x in p.read_text().splitlines()]
    return [(out / "data" / part["image"]).read_bytes() for r in rows
            for part in r["messages"][0]["content"] if part["type"] == "image"]


def rerun_cases(work: Path) -> list[Case]:
    rad = sorted((BENCH / "vqa-rad" / "VQA_RAD Image Folder").glob("*.jpg"))
    cases: list[Case] = []
    for kind in ("folder image", "referenced image"):
        for keep in (False, True):
            for ops in ([{"op": "token_count"}], [{"op": "image_phash"}]):
                def run(kind=kind, keep=keep, ops=ops) -> tuple[bool, str]:
                    Path("imgs").mkdir()
                    image = Path("imgs/a.jpg").absolute()
                    image.write_bytes(rad[0].read_bytes())
                    if kind == "folder image":
                        inputs = [{"name": "f", "path": "imgs", "format": "image_folder"}]
                    else:
                        write_jsonl(Path("d.jsonl"), [{"id": "q", "question": "Organ?",
                                                       "answer": "Liver.", "image": str(image)}])
                        inputs = [{"name": "d", "path": "d.jsonl"}]
                    recipe = curation_recipe(Path("r.yaml"), inputs, ops)
                    for _ in range(2):
                        rc, out = cli("data", "run", "--recipe", str(recipe))
                        if rc != 0:
                            return False, out[-200:]
                        _edit_in_place(image, keep) if _ == 0 else None
                    got = _images_of(Path("out"))
                    return got == [image.read_bytes()], "rerun wrote the old image" if got != [
                        image.read_bytes()] else "edit seen"
                cases.append(("3 rerun after an edit", f"{kind}, {ops[0]['op']}, "
                              f"{'size+mtime kept' if keep else 'mtime changed'}", run))
    for rows in (6, 8, 3):
        def run(rows=rows) -> tuple[bool, str]:
            write_jsonl(Path("d.jsonl"), [{"id": f"q{i}", "question": f"Q{i}?", "answer": "A."}
                                          for i in range(6)])
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "token_count"}])
            cli("data", "run", "--recipe", str(recipe))
            write_jsonl(Path("d.jsonl"), [{"id": f"q{i}", "question": f"Q{i}?", "answer": "B."}
                                          for i in range(rows)])
            cli("data", "run", "--recipe", str(recipe))
            got = [json.loads(x) for p in sorted(Path("out/data").glob("shard-*.jsonl"))
                   for x in p.read_text().splitlines()]
            answers = {r["messages"][-1]["content"][0]["text"] for r in got}
            return len(got) == rows and answers == {"B."}, f"{len(got)} rows, answers {answers}"
        cases.append(("3 rerun after an edit", f"input file rewritten with {rows} rows", run))
    return cases


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".work" not in p.relative_to(out).parts}


def _leftovers(out: Path) -> list[str]:
    return [p.name for p in out.rglob("*") if p.name.endswith(".tmp") or
            p.name.startswith(".tmp") or (p.name.startswith(".") and p.name not in (".work",))]


def _kill_at(cmd: list[str], delay: float) -> bool:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def kill_cases(work: Path) -> list[Case]:
    """kill -9 of ``data run`` at seeded points (each trial: two kills, then the rerun)."""
    rad = sorted((BENCH / "vqa-rad" / "VQA_RAD Image Folder").glob("*.jpg"))[:40]
    clean: dict[str, float] = {}

    def recipe(name: str) -> list[str]:
        write_jsonl(work / "kill" / "rad.jsonl", [
            {"id": p.stem, "image": str(p), "question": "Describe.", "answer": p.stem} for p in rad])
        r = curation_recipe(work / "kill" / f"{name}.yaml", [{"name": "rad", "path": "rad.jsonl"}],
                            [{"op": "image_decodable"}, {"op": "image_phash"},
                             {"op": "image_dedup", "threshold": 4}], out=name)
        return [sys.executable, "-m", "lingshu.cli.main", "data", "run", "--recipe", str(r)]

    def run(seed: int) -> tuple[bool, str]:
        if not clean:
            start = time.monotonic()
            subprocess.run(recipe("clean"), env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
                           check=True, capture_output=True)
            clean["s"] = time.monotonic() - start
        rng = random.Random(seed)
        cmd = recipe(f"killed{seed}")
        kills = sum(_kill_at(cmd, rng.uniform(0.2, 0.95) * clean["s"]) for _ in range(2))
        res = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
                             capture_output=True, text=True)
        got, want = _outputs(work / "kill" / f"killed{seed}"), _outputs(work / "kill" / "clean")
        same = sorted(got) == sorted(want) and all(
            got[k] == v.replace(b"clean", f"killed{seed}".encode()) for k, v in want.items())
        left = _leftovers(work / "kill" / f"killed{seed}")
        return res.returncode == 0 and same and not left, f"{kills} kills; equal: {same}; left: {left}"
    return [("4 kill -9 of data run", f"seed {s}", lambda s=s: run(s)) for s in range(8)]


# -- 9, 10, 11: evaluation CLI ----------------------------------------------------------------


def _rad_copy(images: bool) -> Path:
    root = Path("bench/vqa-rad").absolute()
    root.mkdir(parents=True)
    for p in (BENCH / "vqa-rad").iterdir():
        if p.is_file():
            (root / p.name).write_bytes(p.read_bytes())
    if images:
        import shutil

        shutil.copytree(BENCH / "vqa-rad" / "VQA_RAD Image Folder", root / "VQA_RAD Image Folder")
    return root


def _first_image_name() -> str:
    rows = json.loads(next(Path("bench/vqa-rad").glob("*.json")).read_text())
    return rows[0]["image_name"]


def _link_variants() -> dict[str, callable]:
    folder = "VQA_RAD Image Folder"
    outside = BENCH / "vqa-rad" / folder

    def file_link(target_of):
        def make():
            root = _rad_copy(True)
            name = _first_image_name()
            (root / folder / name).unlink()
            (root / folder / name).symlink_to(target_of(name))
        return make

    def folder_link():
        (_rad_copy(False) / folder).symlink_to(outside)

    def chain():
        root = _rad_copy(False)
        (root / "hop").symlink_to(outside)
        (root / folder).symlink_to("hop")

    def nested():
        root = _rad_copy(False)
        (root / folder).mkdir()
        (root / folder / "in").symlink_to(outside)
        q = next(root.glob("*.json"))
        rows = json.loads(q.read_text())
        q.write_text(json.dumps([{**r, "image_name": "in/" + r["image_name"]} for r in rows]))

    def reference(ref):
        def make():
            root = _rad_copy(True)
            q = next(root.glob("*.json"))
            rows = json.loads(q.read_text())
            rows[0]["image_name"] = ref
            q.write_text(json.dumps(rows))
        return make

    return {"image file -> outside copy": file_link(lambda n: outside / n),
            "image file -> /etc/passwd": file_link(lambda n: Path("/etc/passwd")),
            "image file -> /proc/self/environ": file_link(lambda n: Path("/proc/self/environ")),
            "image file -> relative ../../..": file_link(lambda n: Path("../" * 30 + "etc/hostname")),
            "image folder -> outside": folder_link, "chain of links": chain,
            "link nested in a real folder": nested,
            "reference ../../../etc/passwd": reference("../../../../../../etc/passwd"),
            "reference /etc/passwd": reference("/etc/passwd")}


def _link_case(make) -> tuple[bool, str]:
    make()
    rc, out = cli(*eval_args(Path("bench"), Path("run"), "vqa-rad", limit=40), "--split", "train")
    if rc != 0 or "Traceback" in out:
        return False, f"exit {rc}: {out.strip()[-200:]}"
    recs = [json.loads(x) for x in next(Path("run/samples").glob("*.jsonl")).read_text().splitlines()]
    refused = [r for r in recs if r.get("error") and "refused" in r["error"]]
    secret = open("/etc/passwd").read()[:40]
    leaked = any(secret in json.dumps(r) for r in recs)
    return bool(refused) and not leaked, f"{len(refused)} of {len(recs)} refused; leaked: {leaked}"


def eval_cases(work: Path) -> list[Case]:
    cases: list[Case] = [("9 eval: symlink leads outside", n, lambda m=m: _link_case(m))
                         for n, m in _link_variants().items()]
    base = eval_args(BENCH, Path("run"))
    for name, data in ENCODINGS.items():
        def run(data=data):
            Path("c.yaml").write_bytes(data)
            return one_line_refusal(*cli(*base, "--config", "c.yaml"))
        cases.append(("10 eval: traceback", f"non-UTF-8 --config ({name})", run))
    for name, text in BROKEN_YAML.items():
        def run(text=text):
            Path("c.yaml").write_text(text)
            rc, out = cli(*base, "--config", "c.yaml")
            if not text and rc == 0:  # an empty config sets nothing: the options rule
                return True, "empty config: the command line's settings"
            return one_line_refusal(rc, out)
        cases.append(("10 eval: traceback", f"--config is {name}", run))
    for value in ("fast", [], 5, "null", {"max_new_tokens": "x"}, {"temperature": "hot"},
                  {"nope": 1}, {"max_new_tokens": -3}, {"stop": 5}, {"seed": 2**70}):
        def run(value=value):
            Path("c.yaml").write_text(json.dumps({"benchmarks": ["medqa-usmle"],
                                                  "generation": value}))
            return one_line_refusal(*cli(*base, "--config", "c.yaml"))
        cases.append(("10 eval: traceback", f"generation: {json.dumps(value)}", run))
    for name, make in (("benchmark folder is a file", lambda: Path("b/medqa-usmle").touch()),
                       ("benchmark file is a folder", lambda: (
                           Path("b/medqa-usmle/phrases_no_exclude_test.jsonl").mkdir(parents=True))),
                       ("benchmark file is binary", lambda: (
                           Path("b/medqa-usmle").mkdir(), Path(
                               "b/medqa-usmle/phrases_no_exclude_test.jsonl").write_bytes(
                               bytes(range(256)) * 4))),
                       ("benchmark file is a dangling link", lambda: (
                           Path("b/medqa-usmle").mkdir(), Path(
                               "b/medqa-usmle/phrases_no_exclude_test.jsonl").symlink_to("/nowhere"))),
                       ("data dir missing", lambda: None)):
        def run(make=make):
            Path("b").mkdir()
            make()
            return one_line_refusal(*cli(*eval_args(Path("b"), Path("run"))))
        cases.append(("10 eval: traceback", name, run))
    bad_values = [("--temperature", v) for v in ("inf", "-inf", "nan", "-1", "1e309")]
    bad_values += [("--top-p", v) for v in ("2", "-0.1", "nan", "0")]
    bad_values += [("--shard", v) for v in ("5/2", "0/0", "2/0", "-1/2", "a/b", "1/2/3", "3/3")]
    bad_values += [("--split", v) for v in ("=test", " test", "", "tset", "test ")]
    bad_values += [("--report-metrics", v) for v in ("blue", "bleu,blue", ",", "rouge-9")]
    bad_values += [("--base-url", v) for v in ("not a url", "http://", "ftp://x/v1", "http://[::1",
                                               "localhost:8000", "  ")]
    bad_values += [("--seed", v) for v in (str(2**70), str(2**64), "-1", str(-2**63 - 1))]
    bad_values += [("--max-new-tokens", v) for v in ("0", "-1", str(10**12))]
    bad_values += [("--limit", v) for v in ("-1", "0")]
    bad_values += [("--batch-size", v) for v in ("0", "-5")]
    bad_values += [("--timeout", v) for v in ("-1", "nan", "0")]
    bad_values += [("--max-retries", v) for v in ("-1",)]
    bad_values += [("--concurrency", v) for v in ("0", "-2")]
    for flag, value in bad_values:
        argv = list(base)
        if flag == "--base-url":
            argv[argv.index("dummy")] = "openai"
            argv += ["--model", "m"]
        cases.append(("11 eval: silently accepted", f"{flag} {value!r}",
                      refuse(*argv, f"{flag}={value}")))
    return cases


# -- 12, 13: training, curation, pipeline -----------------------------------------------------


def _train_recipe(work: Path, **stage) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "train"))
    from _train_helpers import make_images, qwen_row, tiny_recipe

    d = Path("t").absolute()
    d.mkdir(exist_ok=True)
    make_images(d / "images")
    write_jsonl(d / "train.jsonl", [qwen_row(i, "images/a.png", f"Q{i}?", f"A{i}.") for i in range(4)])
    return tiny_recipe(d, tiny_model(work), d / "train.jsonl", max_steps=1, **stage)


def training_cases(work: Path) -> list[Case]:
    cls12, cls13 = "12 train/data/pipeline: traceback", "13 train/data/pipeline: silently accepted"
    cases: list[Case] = []
    broken = {**{f"non-UTF-8 ({k})": v for k, v in ENCODINGS.items()},
              **{f"{k}": v.encode() for k, v in BROKEN_YAML.items()}}
    for name, data in broken.items():
        for cmd in (["train", "run", "--dry-run"], ["data", "run"], ["pipeline", "run"]):
            def run(data=data, cmd=cmd):
                Path("r.yaml").write_bytes(data)
                return one_line_refusal(*cli(*cmd, "--recipe", "r.yaml"))
            cases.append((cls12, f"{cmd[0]}: recipe is {name}", run))

    def output_is_a_file(cmd: str, sub: bool):
        def run():
            Path("taken").write_text("x")
            out = "taken/sub" if sub else "taken"
            if cmd == "train":
                recipe = _train_recipe(work)
                return one_line_refusal(*cli("train", "run", "--recipe", str(recipe),
                                             f"output_dir={Path(out).absolute()}"))
            write_jsonl(Path("d.jsonl"), [{"id": "q", "question": "Q?", "answer": "A."}])
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "token_count"}], out=out)
            return one_line_refusal(*cli("data", "run", "--recipe", str(recipe)))
        return run
    for cmd in ("train", "data"):
        for sub in (False, True):
            cases.append((cls12, f"{cmd}: output path is a file{' (below)' if sub else ''}",
                          output_is_a_file(cmd, sub)))
    for sub in (False, True):
        cases.append((cls12, f"pipeline: output_dir is a file{' (below)' if sub else ''}",
                      lambda sub=sub: (Path("taken").write_text("x"), one_line_refusal(*cli(
                          "pipeline", "run", "--recipe", "nano",
                          f"output_dir={Path('taken/sub' if sub else 'taken').absolute()}")))[1]))
    for field, value in (("ratio", -1), ("ratio", 0), ("ratio", "nan"), ("ratio", "inf"),
                         ("ratio", "x"), ("samples", -5), ("samples", 0), ("path", "")):
        def run(field=field, value=value):
            recipe = _train_recipe(work)
            return one_line_refusal(*cli("train", "run", "--recipe", str(recipe), "--dry-run",
                                         f"stages.0.data.0.{field}={value}"))
        cases.append((cls12, f"train: data mixture {field}={value}", run))
    for name, value in (("missing", "/nonexistent/tok"), ("a file", "/etc/hostname"),
                        ("an empty folder", "EMPTY")):
        def run(value=value):
            if value == "EMPTY":
                Path("empty").mkdir()
                value = str(Path("empty").absolute())
            write_jsonl(Path("d.jsonl"), [{"id": "q", "question": "Q?", "answer": "A."}])
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "token_count", "tokenizer": value}])
            return one_line_refusal(*cli("data", "run", "--recipe", str(recipe)))
        cases.append((cls12, f"data: tokenizer folder {name}", run))
    for name, value in (("missing", "NOWHERE"), ("a file", "/etc/hostname"),
                        ("an empty folder", "EMPTY"), ("without the named benchmark", "OTHER")):
        def run(value=value):
            path = {"NOWHERE": "nowhere", "EMPTY": "empty", "OTHER": "other"}.get(value, value)
            if value in ("EMPTY", "OTHER"):
                Path(path).mkdir()
            if value == "OTHER":
                (Path(path) / "medqa-usmle").symlink_to(BENCH / "medqa-usmle")
            write_jsonl(Path("d.jsonl"), [{"id": "q", "question": "Q?", "answer": "A."}])
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "decontaminate", "data_dir": str(Path(path).absolute()),
                                       "benchmarks": ["pubmedqa"]}])
            return one_line_refusal(*cli("data", "run", "--recipe", str(recipe)))
        cases.append((cls13, f"data: decontamination data_dir {name}", run))
    for gate in ("gates.0.benchmark=lingshu-dmo", "gates.1.benchmark=mmlu", "gates.0.benchmark=",
                 "gates.5.benchmark=mmlu-med", "gates.0.min_accuracy=1.5"):
        cases.append((cls13, f"pipeline: {gate}",
                      refuse_process("pipeline", "run", "--recipe", "nano",
                                     "output_dir=pipe", gate)))
    for stage in ("stage9", "", "stage1", "STAGE1-SHALLOW-ALIGNMENT"):
        cases.append((cls13, f"train: --stage {stage!r} (dry run)",
                      refuse("train", "run", "--recipe", "nano", "--dry-run", "--stage", stage)))
    for override in ("stages.-1.max_steps=3", "stages.9.max_steps=3", "stages.x.max_steps=3",
                     "stages.0.nope=1", "stages.0.max_steps=-4", "nope=1", "stages=[]"):
        cases.append((cls13, f"train: override {override}",
                      refuse("train", "run", "--recipe", "nano", "--dry-run", override)))
    return cases


# -- 14: file modes ---------------------------------------------------------------------------


def _modes_ok(root: Path, umask: int) -> tuple[bool, str]:
    wrong = []
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        want = (0o777 if p.is_dir() else 0o666) & ~umask
        got = stat.S_IMODE(p.stat().st_mode)
        if got != want:
            wrong.append(f"{p.relative_to(root.parent)} {oct(got)} (want {oct(want)})")
    return not wrong, f"{len(wrong)} wrong, e.g. {wrong[:2]}"


def mode_cases(work: Path) -> list[Case]:
    cases: list[Case] = []
    for umask in (0o022, 0o027, 0o002, 0o077):
        cases.append(("14 file modes honour the umask", f"eval run, umask {oct(umask)}",
                      succeed(lambda rc, out, u=umask: _modes_ok(Path("run"), u),
                              *eval_args(BENCH, Path("run")), umask=umask)))

        def data(umask=umask):
            write_jsonl(Path("d.jsonl"), [{"id": "q", "question": "Q?", "answer": "A."}])
            recipe = curation_recipe(Path("r.yaml"), [{"name": "d", "path": "d.jsonl"}],
                                     [{"op": "token_count"}])
            rc, out = cli("data", "run", "--recipe", str(recipe), umask=umask)
            return _modes_ok(Path("out"), umask) if rc == 0 else (False, out[-200:])
        cases.append(("14 file modes honour the umask", f"data run, umask {oct(umask)}", data))
    for umask in (0o022, 0o027):
        def train(umask=umask):
            recipe = _train_recipe(work, checkpoint_every=1)
            rc, out = cli("train", "run", "--recipe", str(recipe), umask=umask)
            return _modes_ok(Path("t/run"), umask) if rc == 0 else (False, out[-300:])
        cases.append(("14 file modes honour the umask", f"train, umask {oct(umask)}", train))
    return cases
