"""Family (e): loaders of public datasets in a workflow's coder cells.

A coder that loads a public copy of its dataset can look up the test labels. Under
``ScanPolicy.coder()`` (the workflow's policy) those loaders are blocked with a message that
says why; elsewhere bundled loaders are only reported, and downloads are network findings.
"""

from __future__ import annotations

import json

import pytest

from deepthinker_nb.errors import ConfigError
from deepthinker_nb.scanner import ScanPolicy, SecurityScanner, Severity
from deepthinker_nb.scanner.kernel_guard import guard_env_value, policy_from_env

CODER = SecurityScanner(ScanPolicy.coder(work_dir="/runs/r1/work", data_dirs=("/runs/r1/data",)))
DEFAULT = SecurityScanner()

LOADERS = [
    "from sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)",
    "import sklearn.datasets as d\nframe = d.load_breast_cancer(as_frame=True).frame",
    "from sklearn import datasets\ndigits = datasets.load_digits()",
    "from sklearn.datasets import fetch_openml\nX, y = fetch_openml('titanic', version=1, "
    "return_X_y=True)",
    "import sklearn\nsklearn.datasets.fetch_california_housing()",
    "import seaborn as sns\ntitanic = sns.load_dataset('titanic')",
    "import statsmodels.api as sm\ndata = sm.datasets.get_rdataset('Titanic').data",
    "from statsmodels.datasets import anes96\ndf = anes96.load_pandas().data",
    "import openml\nds = openml.datasets.get_dataset(40945)",
    "import tensorflow_datasets as tfds\nds = tfds.load('mnist', split='test')",
    "from tensorflow.keras.datasets import mnist\n(x, y), (xt, yt) = mnist.load_data()",
    "import tensorflow as tf\n(x, y), _ = tf.keras.datasets.cifar10.load_data()",
    "from torchvision import datasets\ntest = datasets.MNIST('data', train=False)",
    "import torchvision\ntorchvision.datasets.CIFAR10(root='data', train=False)",
    "from datasets import load_dataset\nimdb = load_dataset('imdb', split='test')",
    "import datasets\ndatasets.load_dataset('stanfordnlp/imdb')",
    "import plotly.express as px\ndf = px.data.iris()",
    "from ucimlrepo import fetch_ucirepo\nadult = fetch_ucirepo(id=2)",
    "from sklearn.datasets import load_wine\nloaders = [load_wine]",
]


@pytest.mark.parametrize("code", LOADERS)
def test_the_coder_policy_refuses_public_dataset_loaders_and_says_why(code):
    report = CODER.scan(code)
    found = [f for f in report.findings if f.rule_id == "public-dataset"]
    assert report.blocked and found and found[0].severity is Severity.HIGH, report.to_text(code)
    assert "test labels" in found[0].message and "TRAIN_PATH" in found[0].message


@pytest.mark.parametrize("code", [
    "from sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)",
    "from torchvision import datasets\ntest = datasets.MNIST('data', train=False)",
    "import plotly.express as px\ndf = px.data.iris()",
])
def test_elsewhere_bundled_datasets_are_only_reported(code):
    report = DEFAULT.scan(code)
    assert not report.blocked, report.to_text(code)
    assert "public-dataset" in report.rule_ids


@pytest.mark.parametrize("code", [
    "import seaborn as sns\nsns.load_dataset('titanic')",
    "from sklearn.datasets import fetch_openml\nfetch_openml('adult')",
    "from datasets import load_dataset\nload_dataset('imdb')",
    "import tensorflow_datasets as tfds\ntfds.load('mnist')",
])
def test_downloading_loaders_are_network_findings_under_any_policy(code):
    assert {"network", "public-dataset"} <= set(DEFAULT.scan(code).rule_ids)
    assert DEFAULT.scan(code).blocked


@pytest.mark.parametrize("code", [
    "import pandas as pd\ntrain = pd.read_csv(TRAIN_PATH)\ntest = pd.read_csv(TEST_FEATURES_PATH)",
    "from sklearn.datasets import make_classification\nX, y = make_classification(200, 5)",
    "from sklearn.datasets import load_svmlight_file\nX, y = load_svmlight_file('train.svm')",
    "from sklearn.datasets import load_files\ndocs = load_files('corpus')",
    "from sklearn.datasets import load_sample_image\nimg = load_sample_image('china.jpg')",
    "from torchvision.datasets import ImageFolder\ntrain = ImageFolder('images/train')",
    "from datasets import load_dataset\nds = load_dataset('csv', data_files=TRAIN_PATH)",
    "from datasets import load_dataset\nds = load_dataset('parquet', data_files={'train': "
    "'train.parquet'})",
    "from datasets import load_from_disk\nds = load_from_disk('prepared')",
    "from nltk.corpus import stopwords\nstop = set(stopwords.words('english'))",
])
def test_the_coder_may_still_load_its_own_data(code):
    report = CODER.scan(code)
    assert not report.blocked, report.to_text(code)
    assert "public-dataset" not in report.rule_ids


def test_a_local_builder_reading_outside_the_sandbox_is_still_a_path_escape():
    code = "from datasets import load_dataset\nload_dataset('csv', data_files='/etc/passwd')"
    assert "path-escape" in CODER.scan(code).rule_ids


def test_the_coder_policy_is_the_default_profile_plus_the_refusal():
    policy = ScanPolicy.coder(work_dir="/w")
    assert policy.refuse_public_datasets and policy.work_dir == "/w"
    assert policy.with_(refuse_public_datasets=False) == ScanPolicy(work_dir="/w")
    assert not ScanPolicy().refuse_public_datasets
    with pytest.raises(ConfigError):
        ScanPolicy(refuse_public_datasets="yes")


def test_the_kernel_side_guard_gets_the_same_policy():
    policy = ScanPolicy.coder(work_dir="/w", data_dirs=("/d",))
    value = guard_env_value(policy)
    assert json.loads(value)["refuse_public_datasets"] is True
    assert policy_from_env(value) == policy
