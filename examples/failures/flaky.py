"""Handlers of the failures example: one of them fails until a file named `fixed` exists."""

import os


def extract(ctx):
    return {"rows": [{"id": 1, "price": "9.50"}, {"id": 2, "price": "n/a"}]}


def _price(row):
    return float(row["price"])


def transform(ctx):
    rows = ctx.deps["extract"]["rows"]
    if os.path.exists("fixed"):  # the fix: skip rows without a price
        rows = [r for r in rows if r["price"] != "n/a"]
    return {"total": sum(_price(r) for r in rows)}


def publish(ctx):
    return f"total: {ctx.deps['transform']['total']:.2f}"
