from __future__ import annotations

import base64
import re

import pytest

from deepthinker_nb.notebook import build_notebook, execute_notebook
from deepthinker_nb.report import export_html

PLOT = ("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3], [3, 1, 2])\nax.set_title('metric')\nplt.show()")


def test_export_html_embeds_matplotlib_plot(tmp_path):
    run = execute_notebook(build_notebook(["print('before the plot')", PLOT]),
                           tmp_path / "run.ipynb")
    assert run.status == "ok", run.summary()
    html_path = export_html(run.path, tmp_path / "report.html")
    html = html_path.read_text()
    match = re.search(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"', html)
    assert match, "no embedded PNG in the HTML"
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG")
    assert "before the plot" in html
    assert not list(tmp_path.glob("*_files"))  # nothing next to the HTML: one file


def test_export_html_default_path(tmp_path):
    import nbformat

    src = tmp_path / "n.ipynb"
    nbformat.write(build_notebook(["1"], kernel_name="python3"), src)
    assert export_html(src) == tmp_path / "n.html"
    assert "<html" in (tmp_path / "n.html").read_text()


def test_export_html_reads_no_file_that_markdown_names(tmp_path, monkeypatch):
    """A markdown cell or a kernel's markdown output may name any file (here a symlink a kernel
    planted, pointing at a host file): the report links it and never embeds its bytes."""
    import nbformat
    from nbformat import v4

    secret = b"host-secret-report-5b1e\n"
    host = tmp_path / "host.txt"
    host.write_bytes(secret)
    (tmp_path / "leak.png").symlink_to(host)
    monkeypatch.chdir(tmp_path)  # nbconvert resolves image paths from the current directory
    nb = build_notebook(["display()"], kernel_name="python3")
    nb.cells.append(v4.new_markdown_cell("![plot](leak.png)"))
    nb.cells[-2].outputs = [v4.new_output("display_data",
                                          data={"text/markdown": f"![p]({tmp_path}/leak.png)"})]
    nbformat.write(nb, tmp_path / "run.ipynb")
    html = export_html(tmp_path / "run.ipynb", tmp_path / "report.html").read_text()
    assert 'src="leak.png"' in html  # left as a link
    assert base64.b64encode(secret).decode() not in html and secret.decode() not in html


def test_export_html_refuses_a_symlinked_notebook_without_quoting_it(tmp_path):
    from deepthinker_nb.untrusted import UntrustedFileError

    (tmp_path / "host.txt").write_text("host-secret-nb-91aa")
    (tmp_path / "run.ipynb").symlink_to(tmp_path / "host.txt")
    with pytest.raises(UntrustedFileError, match="a symlink") as info:
        export_html(tmp_path / "run.ipynb", tmp_path / "report.html")
    assert "host-secret" not in str(info.value)
    assert not (tmp_path / "report.html").exists()
