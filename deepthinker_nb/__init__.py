"""deepthinker-nb: run AI-generated data-science code safely in managed Jupyter kernels."""

__version__ = "0.1.0"
