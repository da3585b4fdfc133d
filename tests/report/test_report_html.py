from __future__ import annotations

import base64
import re

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
