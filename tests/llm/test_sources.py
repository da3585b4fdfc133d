"""The researcher's sources: the user's documents (``--docs``: text, Markdown, notebooks, PDF,
ranked by BM25) and a SearXNG instance (``--search-url``), served here by a real
SearXNG-compatible HTTP server on 127.0.0.1. What the researcher consulted reaches its prompt,
research.ipynb (with the file or URL) and the manifest."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from searx_server import SearxServer
from test_councils import _profile

from deepthinker_nb.cli import main
from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.llm import LLMClient
from deepthinker_nb.llm.retrieval import DocumentIndex, chunk
from deepthinker_nb.llm.retrieval_web import ResearchSources, SearchError, SearxngSearch
from deepthinker_nb.notebook.io import read_notebook
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.councils.llm import llm_councils, log_path
from deepthinker_nb.workflow.councils.llm_advisers import LLMResearcher
from deepthinker_nb.workflow.councils.offline import OfflinePlanner
from deepthinker_nb.workflow.datasets import bundled_dataset

RESULTS = [{"url": "https://example.org/iris", "title": "The iris flower data set",
            "content": "Fisher's iris data: setosa is linearly separable by petal size.",
            "engine": "test", "score": 1.0}]


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               "/Resources << /Font << /F1 5 0 R >> >> >>",
               f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = "%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += (f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
            + "".join(f"{o:010d} 00000 n \n" for o in offsets)
            + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n")
    return out.encode()


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "petals.md").write_text(
        "# Field notes\n\nPetal length and petal width separate setosa from the other species."
        "\n\nThe sepals overlap.\n")
    (root / "cooking.txt").write_text("Boil the pasta for nine minutes in salted water.\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Versicolor and virginica overlap in petal width; a linear model confuses them.")])
    nbformat.write(nb, root / "eda.ipynb")
    (root / "paper.pdf").write_bytes(_pdf("Sepal width hardly separates the iris species."))
    (root / "image.png").write_bytes(b"\x89PNG")
    return root


@pytest.fixture
def searx():
    s = SearxServer(list(RESULTS))
    s.start()
    yield s
    s.stop()


def test_chunks_merge_paragraphs_and_cut_long_ones():
    assert chunk("a b\n\nc d\n\n\ne", size=100) == ["a b c d e"]
    long = " ".join(["word"] * 300)
    assert all(len(p) <= 100 for p in chunk(long, size=100)) and len(chunk(long, 100)) > 10


def test_docs_are_read_and_ranked_by_bm25(docs):
    index = DocumentIndex.from_dir(docs)
    assert {p.source for p in index.passages} == {
        "notes/petals.md", "cooking.txt", "eda.ipynb", "paper.pdf#page=1"}
    top = index.search("petal width setosa species", k=3)
    assert top[0].source == "notes/petals.md" and "cooking.txt" not in {p.source for p in top}
    assert index.search("sepal width", k=1)[0].source in {"paper.pdf#page=1", "notes/petals.md"}
    assert any(p.source == "paper.pdf#page=1" for p in index.search("hardly separates", k=2))
    assert index.search("quantum chromodynamics") == []


def test_pdf_without_pypdf_is_skipped_with_a_warning(docs, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "pypdf", None)  # import pypdf now raises ImportError
    index = DocumentIndex.from_dir(docs)
    assert "paper.pdf#page=1" not in {p.source for p in index.passages}
    assert index.warnings == ["--docs: skipped 1 PDF file(s): install pypdf "
                              "(pip install 'deepthinker-nb[llm]') to read them"]
    assert index.warnings[0] in caplog.text


def test_docs_that_are_no_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"^--docs: .* is not a directory"):
        DocumentIndex.from_dir(tmp_path / "missing")


def test_searxng_results_and_errors(searx):
    (hit,) = SearxngSearch(searx.url).search("iris species", k=5)
    assert (hit.source, hit.title, hit.kind) == ("https://example.org/iris",
                                                 "The iris flower data set", "web")
    assert searx.queries == ["iris species"]
    searx.status = 500
    with pytest.raises(SearchError, match="HTTP 500"):
        SearxngSearch(searx.url).search("x")
    with pytest.raises(SearchError, match="unreachable"):
        SearxngSearch("http://127.0.0.1:9", timeout=2).search("x")
    with pytest.raises(ConfigError, match="--search-url"):
        SearxngSearch("ftp://example.org")


def test_researcher_prompt_carries_the_passages_and_their_sources(server, config, docs, searx):
    server.add('{"findings": ["petal size separates setosa [source 1]"]}')
    sources = ResearchSources(DocumentIndex.from_dir(docs), SearxngSearch(searx.url))
    researcher = LLMResearcher(LLMClient(config), sources=sources)
    plan = OfflinePlanner().plan("classify iris species by petal width", _profile())
    summary = researcher.summarise(plan, _profile(), ["shape (120, 5)"])
    prompt = server.requests[0]["messages"][-1]["content"]
    assert 'from="notes/petals.md"' in prompt and "Petal length and petal width" in prompt
    assert 'from="https://example.org/iris"' in prompt
    assert {s["source"] for s in summary.sources} >= {"notes/petals.md",
                                                       "https://example.org/iris"}
    markdown = summary.to_markdown()
    assert "### Sources consulted" in markdown and "`notes/petals.md`" in markdown
    assert "[The iris flower data set](https://example.org/iris)" in markdown


def test_a_failing_search_is_a_warning_and_the_research_goes_on(server, config, caplog):
    server.add('{"findings": ["four features"]}')
    sources = ResearchSources(search=SearxngSearch("http://127.0.0.1:9", timeout=2))
    researcher = LLMResearcher(LLMClient(config), sources=sources)
    summary = researcher.summarise(OfflinePlanner().plan("x", _profile()), _profile(), [])
    assert summary.findings[-1] == "(model) four features"
    (note,) = [s for s in summary.sources if s["kind"] == "note"]
    assert "unreachable" in note["passage"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0]


@pytest.mark.slow
def test_docs_and_search_feed_the_researcher_of_a_run(server, config, docs, searx, tmp_path):
    server.add('{"findings": ["petal measurements separate the species (notes/petals.md)"]}')
    dataset = bundled_dataset("iris")
    data = DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                      execution_timeout=60.0)
    runs = tmp_path / "runs"
    sources = ResearchSources(DocumentIndex.from_dir(docs), SearxngSearch(searx.url))
    councils = llm_councils(config, log_path(runs, "sources"), roles=(), sources=sources)
    result = WorkflowRunner(data, IterationConfig(max_iterations=1), councils=councils,
                            runs_dir=runs, run_id="sources", simulate=False,
                            report=False).run(dataset.objective)
    assert result.status == "complete" and searx.queries
    nb = read_notebook(result.run_dir / "research.ipynb")
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "### Sources consulted" in last.source
    assert "`notes/petals.md`" in last.source
    assert "(https://example.org/iris)" in last.source
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert any(s.get("source") == "notes/petals.md"
               for s in manifest["research"]["summary"]["sources"])
    assert manifest["llm"]["calls"] == 1 and manifest["llm"]["per_council"] == {
        "researcher": manifest["llm"]["per_council"]["researcher"]}


def test_cli_docs_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEEPTHINKER_LLM_MODEL", raising=False)
    code = main(["demo", "--docs", str(tmp_path / "nope"), "--model", "m",
                 "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--docs" in err and len(err.strip().splitlines()) == 1
    code = main(["demo", "--docs", str(tmp_path), "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--docs: the researcher reads sources through a model" in err
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]
