# %% [markdown]
# # Hello, deepthinker-nb
# A tiny percent-format script: each `# %%` starts a cell. Run it with
# `deepthinker-nb exec notebooks/examples/hello.py --output hello.ipynb`.

# %%
import platform

print("hello from a managed kernel, python", platform.python_version())

# %%
squares = {n: n * n for n in range(1, 6)}
squares

# %%
total = sum(squares.values())
print(f"sum of squares 1..5 = {total}")
