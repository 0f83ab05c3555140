"""What model calls cost: a price per million tokens, in and out, per model.

Prices are the user's to set: an agent's ``price: {input: 0.15, output: 0.60}`` (dollars per
million prompt and completion tokens), or `set_price` for a model in this process. The table
below holds a few list prices as a starting point; they change, so set the ones you pay. A
model with no price costs 0 (a local model), and its tokens are still counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRICES", "Price", "cost_of", "price_for", "set_price"]


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars (or any currency) per million prompt (``input``) and completion (``output``)
    tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


# model name (or its prefix before a date or tag suffix) -> price per million tokens
PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3-mini": Price(1.10, 4.40),
}


def set_price(model: str, input: float, output: float) -> None:
    """Set the price of ``model`` (per million prompt and completion tokens) in this process.

    >>> set_price("my-finetune", input=0.30, output=1.20)
    """
    PRICES[model] = Price(float(input), float(output))


def price_for(model: str, override: Price | None = None) -> Price | None:
    """The price of ``model``: ``override``, else the table's entry for the model or for the
    longest name it starts with (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``), else None."""
    if override is not None:
        return override
    found = PRICES.get(model)
    if found is not None:
        return found
    best = ""
    for name in PRICES:
        if model.startswith(name) and len(name) > len(best):
            best = name
    return PRICES[best] if best else None


def cost_of(model: str, prompt_tokens: int, completion_tokens: int, override: Price | None = None):
    """The cost of one call, 0.0 when the model has no price."""
    price = price_for(model, override)
    return 0.0 if price is None else price.cost(prompt_tokens, completion_tokens)
